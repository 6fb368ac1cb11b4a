"""The argument parser of the analytics command lines: a bad argument is ONE line and exit 2.

argparse prints its whole usage block before the error; in a log or a CI
transcript the actual complaint then drowns. Here it is ``prog: error: …``
alone (``--help`` still shows the usage).
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is ONE line (``prog: error: …``) and exit 2, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")
