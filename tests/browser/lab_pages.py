"""Driving a notebook in JupyterLab from a browser test."""

KERNEL_TIMEOUT_MS = 120_000


def run_notebook(page, server, path: str) -> None:
    """Open ``path`` in JupyterLab, wait until it is the current notebook and its kernel is idle, Run All.

    JupyterLab restores the notebooks an earlier test left open, so waiting for "a" current
    kernel could run another notebook's cells."""
    page.goto(f"{server.url}/lab/tree/{path}?token={server.token}")
    page.wait_for_function("path => { const widget = window.jupyterapp?.shell.currentWidget;"
                           " return widget?.context?.path === path"
                           " && widget.sessionContext?.session?.kernel?.status === 'idle'; }",
                           arg=path, timeout=KERNEL_TIMEOUT_MS)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
