"""Fine-tune and evaluate Molmo-style models on the PixMo mixture."""
