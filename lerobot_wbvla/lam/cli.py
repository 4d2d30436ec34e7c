"""What the LAM command lines (wbvla-train-lam, wbvla-lam-eval, wbvla-lam-label) share: a complete, fast
`--help`, `--lam.preset=NAME`, quiet progress bars, and the one-error-line rule.

Why not draccus/LeRobot's own help: LeRobot's parser prints only the fields of the choice classes already picked
on the command line (so `--lam.encoder.image_size` or `--lam.model.latent_dim` never show up), and it is answered
after importing torch, transformers and LeRobot (~10-20 s on a loaded machine). Here `--help` is answered from the
config dataclasses alone (they import only draccus), listing every field of every choice class under a
"when --x.type=name" heading, with the field's doc comment and default.

`--lam.preset=NAME` (train only): the preset's values become the defaults of every `--lam.*` field, and explicit
flags (or a `--config_path` file) override them. It is implemented by writing the preset as a config file that
LeRobot's parser reads before the flags, so parsing stays LeRobot's. A `--lam.encoder.type` or `--lam.model.type`
other than the preset's starts that part from the chosen type's own defaults (the preset's values of another type
would not fit it).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import sys
import tempfile
import textwrap
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import draccus
from draccus.wrappers.docstring import get_attribute_docstring

HELP_WIDTH = 110
PRESET_FLAG = "--lam.preset"


class LazyModule(types.ModuleType):
    """A module that is imported on first attribute access: `torch = LazyModule("torch")` at the top of a CLI
    module keeps `torch.x` working everywhere in it while `--help` never pays for importing torch."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_name"] = name

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__dict__["_lazy_name"])
        self.__dict__.update(module.__dict__)  # later look-ups are plain attribute reads
        return getattr(module, attr)


def lazy_no_grad(fn: Callable) -> Callable:
    """`@torch.no_grad()` that imports torch when the function is first called, not when it is defined."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return wrapper


# ---- argv helpers


def flag_value(args: Sequence[str], flag: str) -> str | None:
    """The value of `--flag=value` or `--flag value` in args (the last one wins, as in argparse), else None."""
    value = None
    for i, arg in enumerate(args):
        if arg.startswith(f"{flag}="):
            value = arg.split("=", 1)[1]
        elif arg == flag and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
    return value


def without_flag(args: Sequence[str], flag: str) -> list[str]:
    """args with every `--flag=value` / `--flag value` removed."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg.startswith(f"{flag}="):
            continue
        if arg == flag:
            skip = i + 1 < len(args) and not args[i + 1].startswith("--")
            continue
        out.append(arg)
    return out


def exit_with_error(prog: str, message: str) -> NoReturn:
    """One `<prog>: error: ...` line on stderr, exit 2 (the LAM commands' rule for bad input)."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(2)


# ---- presets on the command line


def _read_config_file(path: str) -> dict:
    text = Path(path).read_text()
    if Path(path).suffix.lower() == ".json":
        return json.loads(text)
    import yaml

    return yaml.safe_load(text) or {}


def _merge(base: dict, over: Mapping) -> dict:
    """`over` on top of `base`, recursively; a choice subtree whose `type` differs from base's replaces it."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if (
            isinstance(old, dict)
            and isinstance(value, Mapping)
            and value.get("type", old.get("type")) == old.get("type")
        ):
            out[key] = _merge(old, value)
        else:
            out[key] = value
    return out


def preset_config(name: str, args: Sequence[str], field_name: str = "lam") -> dict:
    """The config-file content that makes preset `name` the defaults of `--<field_name>.*`, under what a user's
    `--config_path` file says; choice parts whose type the flags change are left to the chosen type's defaults."""
    from lerobot_wbvla.lam.presets import lam_preset

    preset = draccus.encode(lam_preset(name))
    for part in ("encoder", "model"):
        chosen = flag_value(args, f"--{field_name}.{part}.type")
        if chosen is not None and chosen != preset[part]["type"]:
            del preset[part]
    content = {field_name: preset}
    user_file = flag_value(args, "--config_path")
    if user_file:
        content = _merge(content, _read_config_file(user_file))
    return content


def apply_preset(prog: str, args: Sequence[str]) -> tuple[list[str], str | None]:
    """Replace `--lam.preset=NAME` in args by a `--config_path` file holding the preset (see module doc).
    Returns the new args and the temp file to delete after parsing (None without a preset). An unknown name is one
    error line and exit 2, before anything is written."""
    from lerobot_wbvla.lam.presets import LAM_PRESETS

    name = flag_value(args, PRESET_FLAG)
    if name is None:
        return list(args), None
    if name not in LAM_PRESETS:
        exit_with_error(
            prog, f"{PRESET_FLAG}={name!r} is not a preset; choose one of {', '.join(LAM_PRESETS)}."
        )
    try:
        content = preset_config(name, args)
    except (OSError, ValueError) as err:
        exit_with_error(prog, f"--config_path: {err}")
    fd, path = tempfile.mkstemp(prefix="lam-preset-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(content, f)
    rest = without_flag(without_flag(args, PRESET_FLAG), "--config_path")
    return [f"--config_path={path}", *rest], path


def parse_with_preset(prog: str, config_class: type, args: Sequence[str] | None = None) -> Any:
    """`draccus.parse(config_class)` that reads `--lam.preset=NAME` as wbvla-train-lam does (for the other
    commands whose config holds a `lam: LAMConfig`: the demo, bench/lam_probe.py)."""
    args, preset_file = apply_preset(prog, list(sys.argv[1:] if args is None else args))
    try:
        return draccus.parse(config_class, args=args)
    finally:
        if preset_file is not None:
            os.unlink(preset_file)


# ---- help


def _doc(cls: type, name: str) -> str:
    """The comment above/inline/below a dataclass field, from the first class of the MRO that documents it (a
    subclass that only changes a default keeps its base's doc)."""
    for klass in cls.__mro__:
        if name in klass.__dict__.get("__annotations__", {}):
            try:
                d = get_attribute_docstring(klass, name)
            except (OSError, TypeError):
                continue
            text = d.comment_above or d.comment_inline or d.docstring_below or ""
            if text.strip():
                return " ".join(text.split())
    return ""


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return "|".join(_type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    return "None" if tp is type(None) else str(tp).replace("typing.", "")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value)


def _is_choice(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, draccus.ChoiceRegistry)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


class _HelpWriter:
    def __init__(self, width: int = HELP_WIDTH) -> None:
        self.lines: list[str] = []
        self.width = width

    def text(self, text: str, indent: int) -> None:
        if text:
            pad = " " * indent
            self.lines += textwrap.wrap(text, self.width, initial_indent=pad, subsequent_indent=pad)

    def option(self, flag: str, type_name: str, doc: str, default: Any, indent: int) -> None:
        self.lines.append(f"{' ' * indent}{flag} {type_name}")
        tail = "" if default is dataclasses.MISSING else f" (default: {_show(default)})"
        self.text((doc + tail).strip(), indent + 6)

    def heading(self, title: str, indent: int) -> None:
        self.lines.append("")
        self.text(title, indent)

    def config(self, obj: Any, prefix: str, indent: int) -> None:
        """Fields of dataclass instance `obj`: plain fields first, then nested configs under their own heading."""
        cls = type(obj)
        hints = typing.get_type_hints(cls)
        fields = [f for f in dataclasses.fields(cls) if f.init]
        nested = [f for f in fields if _is_dataclass_type(hints[f.name])]
        for f in fields:
            if f not in nested:
                self.option(
                    f"--{prefix}{f.name}",
                    _type_name(hints[f.name]),
                    _doc(cls, f.name),
                    getattr(obj, f.name),
                    indent,
                )
        for f in nested:
            value, tp = getattr(obj, f.name), hints[f.name]
            about = _doc(cls, f.name) or " ".join((tp.__doc__ or "").split())
            self.heading(f"--{prefix}{f.name}.*: {about}".rstrip(": "), indent)
            if _is_choice(tp):
                self.choice(tp, value, f"{prefix}{f.name}.", indent + 2)
            else:
                self.config(value, f"{prefix}{f.name}.", indent + 2)

    def choice(self, base: type, value: Any, prefix: str, indent: int) -> None:
        """A draccus choice field: its `type` flag, the fields every type has, then each type's own fields."""
        choices = base.get_known_choices()
        current = base.get_choice_name(type(value))
        self.option(f"--{prefix}type", "{" + ",".join(choices) + "}", "Which type.", current, indent)
        common = {f.name for f in dataclasses.fields(base)} if dataclasses.is_dataclass(base) else set()
        if common:
            self.heading(f"every --{prefix}type:", indent)
            hints = typing.get_type_hints(type(value))
            for f in dataclasses.fields(type(value)):
                if f.name in common:
                    self.option(
                        f"--{prefix}{f.name}",
                        _type_name(hints[f.name]),
                        _doc(base, f.name),
                        getattr(value, f.name),
                        indent + 2,
                    )
        for name, cls in choices.items():
            is_current = name == current
            self.heading(f"when --{prefix}type={name}{' (default)' if is_current else ''}:", indent)
            obj = value if is_current else cls()
            hints = typing.get_type_hints(cls)
            shown = 0
            for f in dataclasses.fields(cls):
                own = getattr(obj, f.name)
                if f.name in common and (is_current or own == getattr(value, f.name)):
                    continue
                self.option(
                    f"--{prefix}{f.name}", _type_name(hints[f.name]), _doc(cls, f.name), own, indent + 2
                )
                shown += 1
            if not shown:
                self.text("(only the fields every type has)", indent + 2)


def _preset_lines(presets: Mapping[str, Callable[[], Any]], writer: _HelpWriter) -> None:
    from lerobot_wbvla.lam.configuration_lam import LAMConfig

    writer.heading(
        f"{PRESET_FLAG}=NAME: the preset's values become the defaults of every --lam.* field; explicit --lam.* "
        "flags override them (a different --lam.encoder.type / --lam.model.type starts that part from the type's "
        "own defaults).",
        0,
    )
    default = LAMConfig()
    for name, make in presets.items():
        preset = make()
        # Compared with the defaults of the preset's own choice types, whose names are listed when they differ.
        base = _flat(
            draccus.encode(LAMConfig(encoder=type(preset.encoder)(), model=type(preset.model)())), "lam."
        )
        changed = [
            f"--lam.{part}.type={getattr(preset, part).type}"
            for part in ("encoder", "model")
            if getattr(preset, part).type != getattr(default, part).type
        ]
        flat = _flat(draccus.encode(preset), "lam.")
        changed += [
            f"--{k}={_show(v)}"
            for k, v in flat.items()
            if k != "lam.preset" and not k.endswith(".type") and base.get(k, dataclasses.MISSING) != v
        ]
        writer.lines.append(f"  {name}")
        writer.text(" ".join((make.__doc__ or "").strip().split("\n\n")[0].split()), 8)
        writer.text("= " + " ".join(changed), 8)


def _flat(d: Mapping, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def render_help(
    prog: str, config: Any, presets: Mapping[str, Callable[[], Any]] | None = None, width: int = HELP_WIDTH
) -> str:
    """The full `--help` text of a CLI whose config is the dataclass instance `config` (its values are shown as
    the defaults): every field, nested and per choice type, with its doc comment."""
    cls = type(config)
    writer = _HelpWriter(width)
    preset = f" [{PRESET_FLAG}={{{','.join(presets)}}}]" if presets else ""
    writer.lines.append(f"usage: {prog} [-h] [--config_path=FILE]{preset} [--FIELD=VALUE ...]")
    writer.lines.append("")
    writer.text(" ".join((cls.__doc__ or "").split()), 0)
    writer.lines.append("")
    writer.text(
        "Flags are --field=value; nested fields use dots (--data.video_root=...). Lists: --x=[1,2]. "
        "--config_path reads a YAML/JSON file of values first; flags override it.",
        0,
    )
    if presets:
        _preset_lines(presets, writer)
    writer.heading("options:", 0)
    writer.option("--config_path", "str", "YAML/JSON file of values, read before the flags.", None, 2)
    writer.config(config, "", 2)
    return "\n".join(writer.lines) + "\n"


def wants_help(args: Sequence[str]) -> bool:
    return "-h" in args or "--help" in args


# ---- progress


def quiet_progress_bars() -> None:
    """`--progress=false`: no bars from the libraries the LAM commands use either (Hub downloads, `datasets`
    loading, transformers weight loading); TQDM_DISABLE covers tqdm in processes started later."""
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    for module, fn in (
        ("huggingface_hub.utils", "disable_progress_bars"),
        ("datasets", "disable_progress_bars"),
        ("transformers.utils.logging", "disable_progress_bar"),
    ):
        try:
            getattr(importlib.import_module(module), fn)()
        except (ImportError, AttributeError):  # a library that is not installed shows no bars
            pass


# ---- running a command


def run_cli(
    prog: str,
    config_class: type,
    run: Callable[[Any], None],
    args: Sequence[str] | None = None,
    presets: bool = False,
) -> None:
    """Answer --help from the dataclasses (no heavy import), turn --lam.preset into defaults (presets=True),
    parse with LeRobot's parser, quiet progress bars for --progress=false, then call run(cfg); bad input
    (lam.data.USER_ERRORS) is one error line and exit 2."""
    args = list(sys.argv[1:] if args is None else args)
    if wants_help(args):
        from lerobot_wbvla.lam.presets import LAM_PRESETS

        config = config_class()
        name = flag_value(args, PRESET_FLAG) if presets else None
        if name is not None:
            if name not in LAM_PRESETS:
                exit_with_error(
                    prog, f"{PRESET_FLAG}={name!r} is not a preset; choose one of {', '.join(LAM_PRESETS)}."
                )
            config = dataclasses.replace(config, lam=LAM_PRESETS[name]())
        sys.stdout.write(render_help(prog, config, LAM_PRESETS if presets else None))
        sys.exit(0)
    temp = None
    if presets:
        args, temp = apply_preset(prog, args)

    from lerobot.configs import parser

    from lerobot_wbvla.lam.data import USER_ERRORS, exit_with_user_error

    def _run(cfg) -> None:
        if temp is not None:
            os.unlink(temp)
        if getattr(cfg, "progress", True) is False:
            quiet_progress_bars()
        run(cfg)

    # LeRobot's parser reads the config class from the annotation and the flags from sys.argv.
    _run.__annotations__["cfg"] = config_class
    sys.argv = [sys.argv[0], *args]
    try:
        parser.wrap()(_run)()
    except USER_ERRORS as err:  # bad input: one clear line, no traceback
        exit_with_user_error(prog, err)
    finally:
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)
