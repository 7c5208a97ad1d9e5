"""The ``motifscope`` command: installs the execution profiles shipped with the workflow.

``snakemake --profile NAME`` only looks in ``./NAME``, ``~/.config/snakemake/NAME`` (or
``$XDG_CONFIG_HOME/snakemake/NAME``) and ``/etc/xdg/snakemake/NAME``, never in the
repository's ``profiles/``. ``motifscope install-profile slurm-gpu`` copies
``profiles/slurm-gpu/config.yaml`` into the user's Snakemake config folder, filling in the
site values (account, partitions, GPU type) given on the command line, so that
``snakemake --profile slurm-gpu`` works exactly as typed from any working directory.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

# Not motifscope.utils: it imports torch, and this command should start instantly.
from motifscope.errors import InputError

SLURM_NAME = (r"[A-Za-z0-9_.-]+", "letters, digits, '_', '.' and '-'")
# The Slurm plugin accepts no '-' in a GPU model.
GPU_MODEL = (r"[A-Za-z0-9_.]+", "letters, digits, '_' and '.'")
# Placeholder in profiles/slurm-gpu/config.yaml -> (command line option, allowed characters).
SITE_VALUES = {
    "account": ("EDIT_account", "--account", SLURM_NAME),
    "cpu_partition": ("EDIT_cpu_partition", "--cpu-partition", SLURM_NAME),
    "gpu_partition": ("EDIT_gpu_partition", "--gpu-partition", SLURM_NAME),
    "gpu_model": ("EDIT_gpu_model", "--gpu-model", GPU_MODEL),
}
PLACEHOLDER = re.compile(r"EDIT_[a-z_]+")


def profiles_dir() -> Path:
    """The ``profiles/`` folder of the clone motifscope is installed from.

    Raises
    ------
    InputError
        When motifscope was not installed from a clone (``pip install -e .``).
    """
    path = Path(__file__).resolve().parents[2] / "profiles"
    if not path.is_dir():
        raise InputError(f"no profiles folder at {path}; install motifscope from a clone of "
                         "its repository with `pip install -e .` or pass --source")
    return path


def snakemake_config_dir() -> Path:
    """Where ``snakemake --profile NAME`` looks for NAME: ``$XDG_CONFIG_HOME/snakemake``,
    by default ``~/.config/snakemake``."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "snakemake"


def _check_value(key: str, value: str) -> str:
    _, option, (pattern, allowed) = SITE_VALUES[key]
    if not re.fullmatch(pattern, value):
        raise InputError(f"{option} '{value}': use only {allowed} "
                         "(the name as `sinfo` or `sacctmgr` prints it)")
    return value


def render_profile(text: str, account: str | None = None, cpu_partition: str | None = None,
                   gpu_partition: str | None = None, gpu_model: str | None = None,
                   no_account: bool = False) -> str:
    """Fill the site values into a profile's text; comments and layout are kept.

    Parameters
    ----------
    text : str
        The profile YAML with ``EDIT_*`` placeholders.
    account, cpu_partition, gpu_partition : str, optional
        Slurm account and partitions; ``None`` leaves the placeholder for a later edit.
    gpu_model : str, optional
        A GPU type (``--gpus=<model>:1``); its commented-out line is switched on.
    no_account : bool, default False
        Submit without ``-A`` (sites without accounts): the account line is replaced by
        ``slurm-no-account: true``.

    Returns
    -------
    str
        The profile text.

    Raises
    ------
    InputError
        A value that is not a plain Slurm name (quotes or spaces would break the profile).
    """
    values = {"account": account, "cpu_partition": cpu_partition,
              "gpu_partition": gpu_partition, "gpu_model": gpu_model}
    if no_account and account:
        raise InputError("give either --account or --no-account, not both")
    for key, value in values.items():
        if value is None:
            continue
        placeholder = SITE_VALUES[key][0]
        value = _check_value(key, value)
        if key == "gpu_model":
            # Switch the commented-out line on.
            text = re.sub(rf"^(\s*)# (gpu_model: \"'){placeholder}('\")",
                          rf"\g<1>\g<2>{value}\3", text, flags=re.M)
        text = text.replace(placeholder, value)
    if no_account:
        text = re.sub(r"^\s*slurm_account: .*\n", "", text, flags=re.M)
        text = text.replace("\ndefault-resources:",
                            "\nslurm-no-account: true\n\ndefault-resources:", 1)
    return text


def unfilled(text: str) -> list[tuple[int, str]]:
    """``(line number, placeholder)`` of every ``EDIT_*`` value still active (not in a comment)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        found += [(number, match) for match in PLACEHOLDER.findall(code)]
    return found


def install_profile(name: str, dest: str | Path | None = None, source: str | Path | None = None,
                    force: bool = False, **values) -> Path:
    """Copy profile ``name`` into the Snakemake config folder, with site values filled in.

    Parameters
    ----------
    name : str
        A folder of ``profiles/`` (``slurm-gpu``, ``local``).
    dest : path, optional
        Folder to install into; default :func:`snakemake_config_dir`.
    source : path, optional
        Folder holding the profiles; default :func:`profiles_dir`.
    force : bool, default False
        Replace an installed profile that differs.
    **values
        ``account``, ``cpu_partition``, ``gpu_partition``, ``gpu_model``, ``no_account``
        (see :func:`render_profile`).

    Returns
    -------
    Path
        The installed ``<dest>/<name>/config.yaml``.

    Raises
    ------
    InputError
        Unknown profile name, or an installed profile differs and ``force`` is off.
    """
    source = Path(source) if source else profiles_dir()
    template = source / name / "config.yaml"
    if not template.is_file():
        known = sorted(p.name for p in source.iterdir() if (p / "config.yaml").is_file())
        raise InputError(f"no profile '{name}' in {source}; choose one of {', '.join(known)}")
    text = render_profile(template.read_text(), **values)
    target = Path(dest or snakemake_config_dir()) / name / "config.yaml"
    if target.exists() and target.read_text() != text and not force:
        raise InputError(f"{target} exists and differs; pass --force to replace it "
                         "(your edits there are lost)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.yaml.", dir=target.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motifscope", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser(
        "install-profile", help="install an execution profile for `snakemake --profile NAME`",
        description="Copy profiles/NAME/config.yaml into the Snakemake config folder "
                    "(~/.config/snakemake/NAME), filling in the site values given.")
    install.add_argument("name", help="profile name: slurm-gpu or local")
    install.add_argument("--account", help="Slurm account (sbatch -A)")
    install.add_argument("--no-account", action="store_true",
                         help="submit without an account (sites that have none)")
    install.add_argument("--cpu-partition", help="partition for CPU jobs")
    install.add_argument("--gpu-partition", help="partition for GPU jobs")
    install.add_argument("--gpu-model", help="one GPU type, e.g. a100 (default: any)")
    install.add_argument("--dest", help="install into DEST/NAME instead (default "
                                        "$XDG_CONFIG_HOME/snakemake or ~/.config/snakemake)")
    install.add_argument("--source",
                         help="folder holding the profiles (default: the clone's profiles/)")
    install.add_argument("--force", action="store_true", help="replace an installed profile")
    convert = commands.add_parser(
        "convert-model", help="turn a torch.save(model) file into a safe state_dict + config",
        description="Unpickle a whole-model file (e.g. bpnet-lite's model.torch) once, "
                    "trusting it explicitly, and write its state_dict (OUT) and the config "
                    "model section that rebuilds it (OUT.yaml).")
    convert.add_argument("source", help="the torch.save(model) file")
    convert.add_argument("output", help="state_dict to write (the config goes to OUTPUT.yaml)")
    convert.add_argument("--trust", action="store_true",
                         help="required: unpickling runs code stored in the file")
    convert.add_argument("--input-length", type=int,
                         help="model input length (BPNet control track), default 2114")
    return parser


def _convert(args) -> int:
    # Here, not at the top: convert imports torch, which the other commands do not need.
    from motifscope.convert import convert_model

    try:
        weights, config, note = convert_model(args.source, args.output, trust=args.trust,
                                              input_length=args.input_length)
    except InputError as err:
        print(f"motifscope: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {weights} and {config}; copy its model section into your config")
    if note:
        print(f"  note: {note}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``motifscope`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "convert-model":
        return _convert(args)
    try:
        target = install_profile(args.name, dest=args.dest, source=args.source, force=args.force,
                                 account=args.account, no_account=args.no_account,
                                 cpu_partition=args.cpu_partition,
                                 gpu_partition=args.gpu_partition, gpu_model=args.gpu_model)
    except InputError as err:
        print(f"motifscope: error: {err}", file=sys.stderr)
        return 2
    print(f"installed {target}")
    left = unfilled(target.read_text())
    for number, placeholder in left:
        print(f"  still to edit: {target}:{number}: {placeholder}", file=sys.stderr)
    profile = target.parent if args.dest else args.name
    clone = Path(args.source).resolve().parent if args.source else profiles_dir().parent
    print(f"run it in the workflow's folder: cd {clone} && snakemake --profile {profile}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
