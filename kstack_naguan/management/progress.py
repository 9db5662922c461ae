"""A progress display for long management commands, drawn by tqdm on the command's stderr.

The bar is drawn on a terminal only (or when `--progress` asks for it) and never with `--json`,
so scripts that read a command's output get the same bytes as before.
"""

from tqdm import tqdm


def add_progress_argument(parser):
    """Add `--progress` / `--no-progress` (default: on a terminal only) to a command."""
    parser.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="draw a progress bar even when stderr is not a terminal",
    )
    parser.add_argument(
        "--no-progress", action="store_false", dest="progress", help="never draw a progress bar"
    )


class Progress:
    """One bar per step of a command's work: `start(label, total)`, `advance(n)`, `close()`."""

    def __init__(self, command, *, wanted=None, as_json=False, unit="rows"):
        # Django's OutputWrapper appends a newline to every write; tqdm needs the raw stream.
        self.stream = getattr(command.stderr, "_out", command.stderr)
        self.disable = True if as_json or wanted is False else (None if wanted is None else False)
        self.unit = unit
        self.bar = None

    def start(self, label, total):
        """Begin a new bar for `total` units of `label`, closing the previous one."""
        self.close()
        self.bar = tqdm(
            total=total,
            desc=label,
            unit=self.unit,
            file=self.stream,
            disable=self.disable,
            dynamic_ncols=True,
            leave=True,
        )

    def advance(self, count=1):
        """Count `count` more units done."""
        if self.bar is not None:
            self.bar.update(count)

    def describe(self, text):
        """Change what the current bar says it is doing."""
        if self.bar is not None:
            self.bar.set_description_str(text)

    def close(self):
        """Finish the current bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
