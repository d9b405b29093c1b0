"""One module per command group; ``hexagone.cli.app`` mounts them."""
