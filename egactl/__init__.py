"""egactl: command-line administration for e-GA's shared government ICT services.

This module stays import-free so that `egactl --version` costs nothing.
"""

__version__ = "0.1.0"
