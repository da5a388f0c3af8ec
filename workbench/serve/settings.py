"""The service's settings, declared once: each field is a ``--flag`` of ``python -m workbench serve``
and a ``WORKBENCH_FLAG`` environment variable (``--max-streams`` <-> ``WORKBENCH_MAX_STREAMS``).

:func:`~workbench.serve.create_app` reads the variables; the command's flags take their defaults
from them, so a flag wins over its variable. A switch (``--quantize``) also has its ``--no-`` form,
and its variable takes ``1/true/yes/on`` or ``0/false/no/off``.
"""
import argparse
import os
from collections.abc import Iterator, Mapping
from dataclasses import Field, dataclass, field, fields, is_dataclass

from .. import cli_args
from ..denoise import DEFAULT_DRY
from ..errors import WorkbenchError
from .limits import Limits
from .protocols import MAX_RATE, MIN_RATE

ENV_PREFIX = "WORKBENCH_"


def switch(value: str) -> bool:
    """A switch's environment value."""
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected 1/true/yes/on or 0/false/no/off, got {value!r}")


def setting(default, help: str, parse=str):
    """A field that is a flag and a variable; ``parse`` reads its text (``switch``: an on/off flag)."""
    return field(default=default, metadata={"help": help, "parse": parse})


def model_setting(name: str):
    """The model option ``--NAME`` as the other commands declare it (:data:`~workbench.cli_args.MODEL_OPTIONS`)."""
    option = cli_args.MODEL_OPTIONS[name]
    if option.get("action") == "store_true":
        return setting(False, option["help"], switch)
    return setting(option["default"], option["help"], option.get("type", str))


@dataclass(frozen=True)
class Settings:
    """What the app serves: models, defaults, token and limits."""

    denoiser: str = model_setting("denoiser")
    asr: str = model_setting("asr")
    lm: bool | str = model_setting("lm")
    live: bool | str = model_setting("live")
    dry: float = setting(DEFAULT_DRY, "default share of the raw signal, 0..1 (?dry= overrides it)", cli_args.dry)
    sample_rate: int = setting(16000, "rate of PCM that names none (?sample_rate= overrides it per request)",
                               cli_args.sample_rate(MIN_RATE, MAX_RATE))
    device: str = model_setting("device")
    quantize: bool = model_setting("quantize")
    token: str | None = setting(None, "require this token (Authorization: Bearer; ?token= also on websockets "
                                      "and the docs page)")
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        return build(cls, variables(cls, environ))


@dataclass(frozen=True)
class Listen:
    """What only ``python -m workbench serve`` sets: where uvicorn listens (see docs/service.md for
    the matching uvicorn flags)."""

    host: str = setting("127.0.0.1", "address to bind (default: loopback only)")
    port: int = setting(8000, "port to bind", int)
    insecure: bool = setting(False, "allow a non-loopback host without a token", switch)
    ssl_certfile: str | None = setting(None, "serve https/wss with this certificate (PEM)")
    ssl_keyfile: str | None = setting(None, "... and this private key (PEM)")


def options(cls) -> Iterator[Field]:
    """The settings of dataclass ``cls``, those of nested dataclasses (``Settings.limits``) inlined."""
    for spec in fields(cls):
        if is_dataclass(spec.type):
            yield from options(spec.type)
        else:
            yield spec


def env_name(spec: Field) -> str:
    return ENV_PREFIX + spec.name.upper()


def reader(spec: Field):
    """How a setting's text is read: its own ``parse``, else (a limit) a positive number of its type."""
    return spec.metadata.get("parse") or cli_args.positive(spec.type)


@dataclass(frozen=True)
class Variable:
    """A setting's environment value, read when the settings are built: a bad one stops only the
    command that uses it, with a message that names the variable."""

    name: str
    text: str

    def read(self, spec: Field):
        try:
            return reader(spec)(self.text)
        except (argparse.ArgumentTypeError, ValueError) as error:
            raise WorkbenchError(f"{self.name}={self.text[:40]!r}: {error}") from None


def variables(cls, environ: Mapping[str, str]) -> dict[str, Variable]:
    """The settings of ``cls`` that ``environ`` sets."""
    return {spec.name: Variable(env_name(spec), environ[env_name(spec)])
            for spec in options(cls) if env_name(spec) in environ}


def build(cls, values: Mapping):
    """``cls`` from flat ``values``, variables read (names missing from them keep their defaults)."""
    specs = {spec.name: spec for spec in fields(cls)}

    def value(name):
        given = values[name]
        return given.read(specs[name]) if isinstance(given, Variable) else given

    return cls(**{name: build(spec.type, values) if is_dataclass(spec.type) else value(name)
                  for name, spec in specs.items() if is_dataclass(spec.type) or name in values})


def add_arguments(parser: argparse.ArgumentParser, cls, environ: Mapping[str, str] = os.environ) -> None:
    """One ``--flag`` per setting of ``cls``; its default is its variable when set."""
    from_env = variables(cls, environ)
    for spec in options(cls):
        flag, parse = "--" + spec.name.replace("_", "-"), reader(spec)
        default = from_env.get(spec.name, spec.default)
        help = f"{spec.metadata['help']} [${env_name(spec)}]"
        if parse is switch:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help)
        else:
            parser.add_argument(flag, type=parse, default=default, help=help)


def from_args(cls, args: argparse.Namespace):
    return build(cls, vars(args))
