"""What a formatter makes of one example and what the collator consumes: conversations over one image."""

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Conversation:
    """One conversation about an image: `turns` are `(user, assistant)` pairs in order.

    All the conversations made from one example share its image and are trained over one encoding of it.
    `task` names the subset and kind (`pixmo_points/pointing`) for logging and per-task losses.
    """

    turns: list[tuple[str, str]]
    task: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class FormattedExample:
    """An image and the conversations made from its annotations."""

    image: Any  # PIL.Image.Image or np.ndarray (H, W, 3) uint8
    conversations: list[Conversation]
    source: Optional[str] = None  # `pixmo_points:train:123`
