"""Views that show a placeholder at once and are built on a background thread."""
import threading

import ipywidgets as widgets

from workbench.widgets.loading import Later, later


def test_the_placeholder_shows_until_the_view_is_built_then_the_view():
    release = threading.Event()
    built = widgets.Label("built")

    def build():
        release.wait(30)
        return built

    view = Later(build, "posteriorgram")
    assert view.view is None and len(view.children) == 1
    assert "wb-loading" in view.children[0]._dom_classes and "posteriorgram" in view.children[0].value
    assert not view.wait(0.05)
    release.set()
    assert view.wait(30)
    assert view.view is built and view.children == (built,)


def test_views_are_built_one_at_a_time_in_the_order_asked():
    order = []
    views = [later(lambda name: order.append(name) or widgets.Label(name), name, name=name) for name in "abc"]
    assert all(view.wait(30) for view in views)
    assert order == ["a", "b", "c"] and [view.view.value for view in views] == ["a", "b", "c"]


def test_a_failure_in_the_thread_shows_in_place_of_the_view():
    def build():
        raise RuntimeError("no such thing")

    view = Later(build, "alignment")
    assert view.wait(30)
    assert "Cannot show this view" in view.view.value and "RuntimeError: no such thing" in view.view.value
