"""The frame every panel shares: a title, its widgets, a status line and an error line."""
import html

import ipywidgets as widgets


def css(widget: widgets.DOMWidget, *classes: str) -> widgets.DOMWidget:
    """Give ``widget`` stable CSS classes (browser tests find widgets by them); returns it."""
    for name in classes:
        widget.add_class(name)
    return widget


class Panel(widgets.VBox):
    """A titled box (CSS ``wb-panel wb-<name>``) with ``.wb-status`` and ``.wb-error`` lines."""

    def __init__(self, name: str, title: str, children: list[widgets.Widget]):
        self.status = css(widgets.HTML(), "wb-status")
        self.error = css(widgets.HTML(), "wb-error")
        heading = widgets.HTML(f"<h3 style='margin:4px 0'>{html.escape(title)}</h3>")
        super().__init__([heading, *children, self.status, self.error],
                         layout=widgets.Layout(border="1px solid #ddd", padding="4px 8px", margin="4px 0"))
        css(self, "wb-panel", f"wb-{name}")

    def say(self, text: str) -> None:
        self.status.value = html.escape(text)

    def fail(self, message: str) -> None:
        """Show one error message (replaces the previous one)."""
        self.error.value = f"<span style='color:#b00020'>&#9888; {html.escape(message)}</span>"

    def clear_error(self) -> None:
        self.error.value = ""
