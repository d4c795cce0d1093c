"""The click that typer runs on: typer ≥ 0.29 vendors its own copy as ``typer._click``.

Contexts and exceptions must come from the same copy typer uses, or
``get_current_context`` finds nothing and usage errors slip past our handler.
"""

from typer import Abort, Exit

try:  # typer ≥ 0.29
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    from typer._click.globals import get_current_context
except ImportError:  # older typer runs on the click package itself
    from click.exceptions import (  # type: ignore[assignment,no-redef]
        ClickException,
        NoArgsIsHelpError,
        UsageError,
    )
    from click.globals import get_current_context  # type: ignore[no-redef]

__all__ = ["Abort", "ClickException", "Exit", "NoArgsIsHelpError", "UsageError", "get_current_context"]
