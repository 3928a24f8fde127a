"""The core command groups, one module each, named as the command is."""
