"""Print which module of the ``workbench`` package imports which, read from the source with ``ast``.

Nothing is imported or run. Each line is ``module -> imported, ...`` with names relative to the
package (``widgets.app``); an import made inside a function (a lazy one) is marked ``*``.
``python tools/import_graph.py [PACKAGE_DIR]`` (default: the ``workbench`` folder beside ``tools/``).
"""
import ast
import sys
from pathlib import Path

PACKAGE = "workbench"


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name (``widgets.app``; ``""`` for the package itself) of every module under ``root``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _resolve(target: str, names: dict[str, Path]) -> str | None:
    """The longest known module that ``target`` (dotted, package-relative) is or lies in."""
    while target not in names:
        if "." not in target:
            return "" if target and "" in names else None
        target = target.rpartition(".")[0]
    return target


def imports(name: str, path: Path, names: dict[str, Path]) -> dict[str, bool]:
    """Package modules imported by module ``name`` -> whether every such import is lazy (in a function)."""
    is_package = path.name == "__init__.py"
    found: dict[str, bool] = {}

    def add(target: str | None, lazy: bool) -> None:
        if target is not None and target != name:
            found[target] = found.get(target, True) and lazy

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                        add(_resolve(alias.name[len(PACKAGE) + 1:], names), lazy)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: climb from this module's package
                    base = name.split(".") if name else []
                    base = base if is_package else base[:-1]
                    base = base[:len(base) - (child.level - 1)]
                    stem = ".".join(base + ([child.module] if child.module else []))
                elif child.module == PACKAGE or (child.module or "").startswith(PACKAGE + "."):
                    stem = child.module[len(PACKAGE) + 1:]
                else:
                    continue
                for alias in child.names:  # `from . import tuning` names a module, not a symbol
                    full = f"{stem}.{alias.name}" if stem else alias.name
                    add(full if full in names else _resolve(stem, names), lazy)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return found


def graph(root: Path) -> dict[str, dict[str, bool]]:
    names = module_names(root)
    return {name: imports(name, path, names) for name, path in names.items()}


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / PACKAGE
    for name, targets in graph(root).items():
        shown = [f"{target or PACKAGE}{'*' if lazy else ''}" for target, lazy in sorted(targets.items())]
        print(f"{name or PACKAGE} -> {', '.join(shown) if shown else '(none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
