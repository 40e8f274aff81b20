"""What a build read, wrote and dropped, split by split: every dropped row is counted under its reason."""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPORT_FILENAME = "build_report.json"


@dataclass
class SplitReport:
    rows_read: int = 0
    rows_written: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> rows
    marked: Counter = field(default_factory=Counter)  # written rows that carry a caveat -> rows

    def to_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "dropped": dict(self.dropped),
            "marked": dict(self.marked),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "SplitReport":
        return cls(
            data["rows_read"], data["rows_written"], Counter(data.get("dropped", {})), Counter(data.get("marked", {}))
        )


@dataclass
class BuildReport:
    """Counts of one build of one config.

    Every row read from the source ends in exactly one place: written to one split, or dropped under a
    reason. `check()` asserts that the counts add up.
    """

    subset: str
    config: str
    source: str
    revision: Optional[str] = None
    splits: dict[str, SplitReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def split(self, name: str) -> SplitReport:
        return self.splits.setdefault(name, SplitReport())

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.splits.values())

    @property
    def rows_written(self) -> int:
        return sum(s.rows_written for s in self.splits.values())

    @property
    def dropped(self) -> Counter:
        total = Counter()
        for s in self.splits.values():
            total.update(s.dropped)
        return total

    def check(self) -> None:
        for name, s in self.splits.items():
            if s.rows_read != s.rows_written + sum(s.dropped.values()):
                raise AssertionError(
                    f"{self.subset}/{self.config} split {name}: read {s.rows_read} rows but wrote "
                    f"{s.rows_written} and dropped {sum(s.dropped.values())}"
                )

    def to_dict(self) -> dict:
        return {
            "subset": self.subset,
            "config": self.config,
            "source": self.source,
            "revision": self.revision,
            "splits": {k: v.to_dict() for k, v in self.splits.items()},
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "BuildReport":
        return cls(
            data["subset"],
            data["config"],
            data["source"],
            data.get("revision"),
            {k: SplitReport.from_dict(v) for k, v in data["splits"].items()},
            list(data.get("notes", [])),
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    def to_markdown(self) -> str:
        """A table a person reads: rows read, written and dropped (by reason) for each split."""
        lines = ["| split | rows read | rows written | rows dropped | dropped by reason |", "|---|---|---|---|---|"]
        for name, s in self.splits.items():
            reasons = "; ".join(f"{reason}: {n:,}" for reason, n in sorted(s.dropped.items())) or "none"
            lines.append(
                f"| {name} | {s.rows_read:,} | {s.rows_written:,} | {sum(s.dropped.values()):,} | {reasons} |"
            )
        for name, s in self.splits.items():
            for caveat, n in sorted(s.marked.items()):
                lines.append(f"\n{name}: {n:,} rows written with a caveat: {caveat}.")
        return "\n".join(lines + [f"\n{note}" for note in self.notes])


def load_reports(folder: Path) -> dict[str, BuildReport]:
    """The build reports kept in a built folder, by config name."""
    path = Path(folder) / REPORT_FILENAME
    if not path.exists():
        return {}
    return {name: BuildReport.from_dict(data) for name, data in json.loads(path.read_text()).items()}


def save_reports(folder: Path, reports: dict[str, BuildReport]) -> None:
    data = {name: report.to_dict() for name, report in sorted(reports.items())}
    (Path(folder) / REPORT_FILENAME).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
