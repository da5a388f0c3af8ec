"""Open a NeMo ``.nemo`` archive without trusting it.

* Extraction is bounded before a byte is written: only folders and regular
  files with relative names, at most ``MAX_MEMBERS`` of them, and at most
  ``16 x`` the archive's own size plus 64 MiB in all (model weights barely
  compress, so only a decompression bomb comes near it).
* The extracted folder is temporary and removed on every way out (errors, and
  SIGTERM in the command line, which turns it into ``SystemExit``).
* ``model_config.yaml`` is read only if its parse events show no anchors or
  aliases (a few hundred bytes of nested aliases expand to millions of nodes),
  at most ``MAX_YAML_NODES`` nodes and ``MAX_YAML_DEPTH`` levels; it must be
  a mapping.
* The weights are read by torch's weights-only unpickler, asked for
  explicitly, so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it off.
"""
import contextlib
import functools
import re
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import torch
import yaml

from ..errors import CheckpointError

MAX_MEMBERS = 1_000
MAX_YAML_BYTES = 1 << 20
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64
CONFIG_NAME = "model_config.yaml"
_BLOCKED_GLOBAL = re.compile(r"GLOBAL (\S+)")


def max_extracted_bytes(archive: Path) -> int:
    """The most an archive may hold once extracted: 16 times its size plus 64 MiB."""
    return 16 * archive.stat().st_size + (64 << 20)


def _extract(archive: Path, folder: Path) -> None:
    """Extract ``archive`` into ``folder``, refusing links, odd names and a total past the bound."""
    limit, total = max_extracted_bytes(archive), 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for count, member in enumerate(tar, 1):
                name = PurePosixPath(member.name)
                if count > MAX_MEMBERS:
                    raise CheckpointError(f"{archive} holds more than {MAX_MEMBERS} files: not a .nemo model")
                if not (member.isfile() or member.isdir()) or name.is_absolute() or ".." in name.parts:
                    raise CheckpointError(f"{archive} holds a link, device or path outside the archive "
                                          f"({member.name[:80]!r}): refused")
                total += member.size
                if total > limit:
                    raise CheckpointError(f"{archive} would extract to more than {limit >> 20} MiB "
                                          f"(16x its size plus 64 MiB): refused as a decompression bomb")
                tar.extract(member, folder, filter="data")
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"cannot read {archive}: damaged .nemo archive ({type(error).__name__})") from None


def _check_yaml(text: str, where: str) -> None:
    """Refuse anchors/aliases and bound nodes and depth, from parse events (nothing is constructed)."""
    nodes = depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise CheckpointError(f"{where}: YAML anchors and aliases are not accepted in a model config")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise CheckpointError(f"{where}: the config nests deeper than {MAX_YAML_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_YAML_NODES:
                    raise CheckpointError(f"{where}: the config has more than {MAX_YAML_NODES} nodes")
    except yaml.YAMLError as error:
        raise CheckpointError(f"{where}: the config is not valid YAML ({type(error).__name__})") from None


def read_config(folder: Path, archive: Path) -> dict:
    """The model section of an extracted archive's config, checked as above."""
    where = f"{archive}: {CONFIG_NAME}"
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{archive} has no {CONFIG_NAME}: not a .nemo model")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise CheckpointError(f"{where} is larger than {MAX_YAML_BYTES >> 20} MiB: refused")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{where} is not UTF-8 text") from None
    _check_yaml(text, where)
    config = yaml.safe_load(text)
    if isinstance(config, dict) and isinstance(config.get("model"), dict):
        config = config["model"]
    if not isinstance(config, dict):
        raise CheckpointError(f"{where} is a {type(config).__name__}, not a mapping of model settings")
    return config


@contextlib.contextmanager
def extracted(archive) -> Iterator[tuple[Path, dict]]:
    """``(folder, model config)`` of a ``.nemo`` extracted into a temporary folder, removed afterwards."""
    archive = Path(archive)
    with tempfile.TemporaryDirectory(prefix="workbench-nemo-") as folder:
        folder = Path(folder)
        _extract(archive, folder)
        yield folder, read_config(folder, archive)


def load_weights(path, map_location="cpu"):
    """``torch.load`` with ``weights_only=True`` given explicitly (an environment cannot override it)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises several types for refused or damaged pickles
        refused = _BLOCKED_GLOBAL.search(str(error))
        if refused:
            raise CheckpointError(f"model weights refused as unsafe: the pickle calls {refused.group(1)}") from None
        raise CheckpointError(f"cannot read the model weights ({type(error).__name__})") from None


@functools.cache
def _weights_only_connector_class():
    from nemo.core.connectors.save_restore_connector import SaveRestoreConnector

    class WeightsOnlyConnector(SaveRestoreConnector):
        """NeMo's connector, restoring from a folder extracted here, weights read by :func:`load_weights`."""

        @staticmethod
        def _load_state_dict_from_disk(model_weights, map_location="cpu"):
            return load_weights(model_weights, map_location)

    return WeightsOnlyConnector


def connector(folder: Path):
    """A NeMo ``SaveRestoreConnector`` that restores from ``folder`` and loads weights only safely."""
    restorer = _weights_only_connector_class()()
    restorer.model_extracted_dir = str(folder)
    return restorer
