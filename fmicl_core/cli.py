"""The argument parser of every command (``python -m fmicl_core.train``, ``python -m analysis.*``).

A usage error is one line on stderr, ``<prog>: error: <message>``, and exit code 2: no usage
block, no traceback. ``--help`` is argparse's. This module imports nothing of the package.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

__all__ = ["ArgumentParser", "EXIT_USAGE"]

EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are a single line (exit code 2); defaults shown in
    ``--help``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        message = " ".join(str(message).split())  # one line, whatever the message held
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)
