"""Print which module of the ``workbench`` package imports which, read from the source with ``ast``.

Nothing is imported or run. Each line is ``module -> imported, ...`` with names relative to the
package (``widgets.app``); an import made inside a function (a lazy one) is marked ``*``.

    python tools/import_graph.py              # the working tree's workbench/
    python tools/import_graph.py PACKAGE_DIR  # another copy of the package
    python tools/import_graph.py --rev REV    # the package as committed at git revision REV
"""
import ast
import subprocess
import sys
from pathlib import Path, PurePosixPath

PACKAGE = "workbench"
REPO = Path(__file__).resolve().parent.parent


def _dotted(relative: PurePosixPath) -> str:
    """``widgets/app.py`` -> ``widgets.app``; a package's ``__init__.py`` -> its own name (``""`` at the top)."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources_in_folder(root: Path) -> dict[str, tuple[str, bool]]:
    """Module name -> (source, is a package) for every ``.py`` file under ``root``."""
    return {_dotted(PurePosixPath(path.relative_to(root).as_posix())): (path.read_text(encoding="utf-8"),
                                                                        path.name == "__init__.py")
            for path in sorted(root.rglob("*.py"))}


def sources_at_revision(revision: str) -> dict[str, tuple[str, bool]]:
    """Module name -> (source, is a package) for the package's files committed at ``revision``."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout

    files = [PurePosixPath(name) for name in git("ls-tree", "-r", "--name-only", revision, PACKAGE).split()
             if name.endswith(".py")]
    return {_dotted(path.relative_to(PACKAGE)): (git("show", f"{revision}:{path}"), path.name == "__init__.py")
            for path in files}


def _resolve(target: str, names) -> str | None:
    """The longest known module that ``target`` (dotted, package-relative) is or lies in."""
    while target not in names:
        if "." not in target:
            return "" if target and "" in names else None
        target = target.rpartition(".")[0]
    return target


def imports(name: str, source: str, is_package: bool, names) -> dict[str, bool]:
    """Package modules imported by module ``name`` -> whether every such import is lazy (in a function)."""
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

    visit(ast.parse(source, name or PACKAGE), False)
    return found


def graph(sources: dict[str, tuple[str, bool]]) -> dict[str, dict[str, bool]]:
    return {name: imports(name, source, is_package, sources) for name, (source, is_package) in sources.items()}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--rev"] and len(argv) == 2:
        sources = sources_at_revision(argv[1])
    else:
        sources = sources_in_folder(Path(argv[0]) if argv else REPO / PACKAGE)
    for name, targets in graph(sources).items():
        shown = [f"{target or PACKAGE}{'*' if lazy else ''}" for target, lazy in sorted(targets.items())]
        print(f"{name or PACKAGE} -> {', '.join(shown) if shown else '(none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
