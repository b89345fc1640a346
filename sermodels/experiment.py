"""The experiment runner: one config over seeds, speaker folds and a grid of overrides.

    ser-experiment --out runs/study/strl_emodb --seeds 0 1 2 --folds \\
        --set model.init_args.net.init_args.fusion_tokens=dims,branches --jobs 2 -- \\
        -c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/emodb.yaml --data.root /data/EMODB

Everything after ``--`` goes to every ``ser fit`` / ``ser test``. Trials:

- ``--seeds S ...``: the ``paper`` protocol once per seed (``data.seed`` and ``seed_everything`` both
  set to the seed: another random split *and* another initialisation). With ``--init-seeds K ...`` each
  split is trained once per initialisation seed (``paper-seedS-initK``) and the aggregate adds the
  seeds' *ensemble*.
- ``--folds``: the ``speaker`` protocol on every fold; the fold count comes from the corpus
  (``speaker_folds``), never typed. With ``--fold-seeds`` each fold also runs per training seed, and the
  aggregate adds the seeds' *ensemble* (their per-utterance probabilities averaged, per fold).
- ``--grid sweep.yaml`` (a W&B sweep file: its ``values`` lists form the grid; constants are
  skipped) and/or ``--set key=v1,v2`` form the grid points; every point runs every trial.

Each trial is one process (``fit`` then ``test``) writing ``<out>/<point>/<trial>/result.json``;
``--jobs N`` runs N at once (CPU: cores are shared out with ``OMP_NUM_THREADS``; GPU: the trials
share the device). Before trials run side by side, one process fills the feature cache for each data
setting (the first pending trial's, and every pending trial's speed copies), so N trials do not each
compute the same features on a cold cache. A re-run skips finished trials (refusing one that was run with other
arguments) and resumes a killed fit from its ``last.ckpt``. To finish an experiment on another machine (a session
that ends, a GPU lent for a while), ``--export-finished DIR`` copies its finished trials (results and test
predictions; no checkpoints, no folders of this machine) and ``--import-finished DIR`` puts them into the other
machine's ``--out``, where the same command runs only the rest.

Selection never touches the reported set: a trial whose test set is its validation set (the
STRL-SER 80/20 protocol) is scored at its last epoch; otherwise the config's monitored checkpoint
(best on the validation split, disjoint from test) is tested. A grid winner is named only from
validation metrics, only where validation is not the reported set, and never among points run on the
LEAKY segment-level split (``data.split_unit=segment``, whose validation shares recordings with test). ``aggregate.json`` and
``summary.md`` hold mean +- std over trials, per-class recall and the pooled confusion matrix per
point and protocol.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Trial", "plan_trials", "aggregate", "main", "run_trial", "grid_points", "trial_predictions_csv",
           "export_finished", "import_finished", "portable_args"]

SUMMARY_KEYS = ("wa", "ua", "macro_f1", "weighted_f1", "macro_precision", "weighted_precision")
SCALAR_KEYS = (*SUMMARY_KEYS, "paper_macro_f1", "paper_weighted_f1")
#: Sweep-file keys the local runner does not take from a sweep file: ``data.root`` is a per-machine
#: placeholder; protocol, fold and seeds are the runner's own (``--seeds``, ``--folds``, ``--fold-seeds``).
_PLACEHOLDER_KEYS = ("data.root", "data.protocol", "data.fold", "data.seed", "seed_everything")


@dataclass
class Trial:
    """One fit + test: a grid point under one protocol, seed and fold."""

    point: str
    overrides: dict[str, Any]
    protocol: str
    seed: int
    fold: int | None = None
    passthrough: list[str] = field(default_factory=list)
    init_seed: int | None = None  # paper protocol: the training seed where it differs from the split's (--init-seeds)

    @property
    def name(self) -> str:
        if self.protocol == "speaker":
            return f"speaker-fold{self.fold}-seed{self.seed}"
        return f"paper-seed{self.seed}" + (f"-init{self.init_seed}" if self.init_seed is not None else "")

    def args(self) -> list[str]:
        """The ``ser`` arguments of this trial (without the subcommand)."""
        args = [*self.passthrough, *[f"--{k}={_arg(v)}" for k, v in self.overrides.items()]]
        init = self.seed if self.init_seed is None else self.init_seed
        args += [f"--data.protocol={self.protocol}", f"--seed_everything={init}"]
        if self.protocol == "speaker":
            args.append(f"--data.fold={self.fold}")
        else:
            args.append(f"--data.seed={self.seed}")
        return args


def _arg(value: object) -> str:
    """A value as the CLI reads it (strings raw, the rest as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def _short(key: str) -> str:
    return key.split(".")[-1]


def grid_points(grid_file: str | None, sets: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Grid points ``(name, overrides)`` from a W&B sweep file and ``key=v1,v2`` settings."""
    import yaml

    axes: dict[str, list[Any]] = {}
    if grid_file:
        sweep = yaml.safe_load(Path(grid_file).read_text())
        for key, spec in (sweep.get("parameters") or {}).items():
            if key in _PLACEHOLDER_KEYS:
                continue
            if "values" in spec:
                axes[key] = list(spec["values"])
            elif "value" in spec:
                # A constant that defines the experiment (e.g. data.ratios [0.6, 0.2, 0.2], which keeps the
                # selection split apart from the reported one) applies to every point, unnamed.
                axes[key] = [spec["value"]]
    for item in sets:
        if "=" not in item:
            raise ValueError(f"--set expects key=value[,value...], got {item!r}")
        key, values = item.split("=", 1)
        axes[key.removeprefix("--")] = [yaml.safe_load(v) for v in _split_values(values)]
    if not axes:
        return [("default", {})]
    keys = list(axes)
    points = []
    for combo in itertools.product(*(axes[k] for k in keys)):
        swept = [(k, v) for k, v in zip(keys, combo) if len(axes[k]) > 1]
        name = "-".join(f"{_short(k)}{v}" for k, v in swept) or "default"
        points.append((name, dict(zip(keys, combo))))
    return points


def _split_values(text: str) -> list[str]:
    """``"1,2"`` -> ``["1", "2"]``; commas inside brackets stay: ``"[0.6,0.2,0.2],[0.8,0.2]"`` is two values."""
    values, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            values.append(current)
            current = ""
        else:
            current += ch
    return [*values, current]


def count_folds(passthrough: list[str], overrides: dict[str, Any]) -> int:
    """The corpus's number of speaker folds (IEMOCAP 5, RAVDESS 6, EMO-DB 10, SAVEE 4, ...)."""
    from datamodules.splits import speaker_folds
    from sermodels.cli import cli_main

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI.s args parameter")
        cli = cli_main([*passthrough, *[f"--{k}={_arg(v)}" for k, v in overrides.items()], "--data.protocol=speaker"], run=False)
    dm = cli.datamodule
    return len(speaker_folds(dm.corpus, num_folds=dm.hparams.num_folds, seed=dm.hparams.seed))


def plan_trials(
    passthrough: list[str],
    points: list[tuple[str, dict[str, Any]]],
    seeds: list[int] | None,
    folds: bool,
    fold_seeds: list[int],
    init_seeds: list[int] | None = None,
) -> list[Trial]:
    """Every trial of the experiment, grid point by grid point (``init_seeds``: each paper split trained once per
    initialisation seed, for a seed ensemble)."""
    trials = []
    for name, overrides in points:
        for seed in seeds or []:
            inits: list[int | None] = list(init_seeds) if init_seeds else [None]
            for init in inits:
                trials.append(Trial(name, overrides, "paper", seed, None, passthrough, init))
        if folds:
            for fold in range(count_folds(passthrough, overrides)):
                for seed in fold_seeds:
                    trials.append(Trial(name, overrides, "speaker", seed, fold, passthrough))
    return trials


# ---------------------------------------------------------------------------------------- one trial
def _val_history(metrics_csv: Path, prefix: str = "val/") -> list[dict[str, float]]:
    """Per-epoch validation WA/UA from a CSVLogger's metrics.csv (``prefix`` ``leaky_test/``: the held-out test
    set's curve that sermodels.diagnostics.ReportedSetCurve logs, where a run had it)."""
    if not metrics_csv.is_file():
        return []
    rows: dict[int, dict[str, float]] = {}
    with metrics_csv.open() as fh:
        for row in csv.DictReader(fh):
            if row.get(f"{prefix}ua") and row.get("epoch") not in (None, ""):
                epoch = int(float(row["epoch"]))
                rows[epoch] = {"epoch": epoch, "wa": float(row[f"{prefix}wa"]), "ua": float(row[f"{prefix}ua"])}
    return [rows[e] for e in sorted(rows)]


def _trial_args(trial_dir: Path, spec: dict[str, Any]) -> list[str]:
    """The ``ser`` arguments of the trial in ``trial_dir``: its own, with its run folder inside ``trial_dir``."""
    return [
        *spec["args"],
        f"--trainer.logger.init_args.save_dir={trial_dir}",
        "--trainer.logger.init_args.name=run",
        "--trainer.logger.init_args.version=run",
        "--data.progress=false",
        "--trainer.enable_progress_bar=false",  # log.txt stays readable; the runner prints progress
    ]


def prepare_trial(trial_dir: Path) -> dict[str, Any]:
    """Fill the feature cache for the trial in ``trial_dir`` (``prepare_data``: every file of the corpus with
    the trial's feature settings, and its training split's speed copies) and train nothing. Returns the
    extraction statistics (``files``, ``computed``, ``cached``)."""
    from sermodels.cli import cli_main

    spec = json.loads((trial_dir / "trial.json").read_text())
    dm = cli_main(_trial_args(trial_dir, spec), run=False).datamodule
    dm.prepare_data()
    stats = {k: dm.extraction_stats.get(k) for k in ("files", "computed", "cached")}
    if not dm.extraction_stats:  # a feature pack: nothing to extract
        print(f"{trial_dir.name}'s data setting reads a feature pack: nothing to extract", flush=True)
    else:
        print(f"feature cache filled for {trial_dir.name}'s data setting: {stats['computed']} files computed, "
              f"{stats['cached']} already cached", flush=True)
    return stats


def prepare_setting(trial_dirs: list[Path]) -> None:
    """:func:`prepare_trial` for the first trial of one data setting; where it uses speed copies (made of each
    trial's own training split), also the other trials' copies, in this process (their originals are cached by
    then), so no two trials extract the same copies side by side."""
    from sermodels.cli import cli_main

    prepare_trial(trial_dirs[0])
    first = json.loads((trial_dirs[0] / "trial.json").read_text())
    if not cli_main(_trial_args(trial_dirs[0], first), run=False).datamodule.speed_factors or len(trial_dirs) < 2:
        return
    for d in trial_dirs[1:]:
        cli_main(_trial_args(d, json.loads((d / "trial.json").read_text())), run=False).datamodule.prepare_data()
    print(f"speed copies filled for the training splits of {len(trial_dirs)} trials", flush=True)


def _fill_caches(pending: list[tuple[Trial, Path]], env: dict[str, str]) -> None:
    """Before trials run side by side: one process per data setting fills the feature cache (every core
    extracts), where each trial would otherwise compute the same missing features at once. A data setting is
    a grid point's ``data.*`` overrides (seeds and folds share every original file's features). A failure is
    reported and left to the trials, whose logs then name the file and the fix."""
    settings: dict[str, list[Path]] = {}
    for t, d in pending:
        key = json.dumps({k: v for k, v in t.overrides.items() if k.startswith("data.")}, sort_keys=True, default=str)
        settings.setdefault(key, []).append(d)
    prep_env = {**env, "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
    for dirs in settings.values():
        d, t0 = dirs[0], time.time()
        print(f"filling the feature cache once for {d.parent.name}/{d.name}'s data setting ...", flush=True)
        with (d / "log.txt").open("a") as log:
            rc = subprocess.run([sys.executable, "-m", "sermodels.experiment", "--prepare", *map(str, dirs)],
                                stdout=log, stderr=subprocess.STDOUT, env=prep_env).returncode
        if rc == 0:
            print(f"... done in {time.time() - t0:.0f} s", flush=True)
        else:
            print(f"... failed (exit {rc}; see {d / 'log.txt'}); the trials will report it", flush=True)


def run_trial(trial_dir: Path) -> dict[str, Any]:
    """Fit (resuming a killed fit) and test the trial described in ``trial_dir/trial.json``."""
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint

    from sermodels.cli import cli_main

    spec = json.loads((trial_dir / "trial.json").read_text())
    args = _trial_args(trial_dir, spec)
    started = time.time()
    probe = cli_main(args, run=False)  # resolves the run folder without training
    last = Path(probe.trainer.log_dir or probe.trainer.default_root_dir) / "checkpoints" / "last.ckpt"
    done = trial_dir / "fit_done.json"
    if done.is_file():
        fit_info = json.loads(done.read_text())
    else:
        resume = [f"--ckpt_path={last}"] if last.is_file() else []
        if resume:
            print(f"resuming the killed fit from {last}", flush=True)
        fit = cli_main(["fit", *args, *resume])
        trainer, dm = fit.trainer, fit.datamodule
        test_is_val = bool(dm.split.test_is_val)
        saving = [cb for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint)]
        monitored = [cb for cb in saving if cb.monitor is not None and cb.best_model_path]
        lasts = [cb.last_model_path for cb in saving if cb.last_model_path]
        last_ckpt = lasts[0] if lasts else None
        if monitored and not test_is_val:
            ckpt = monitored[0].best_model_path
            selection = f"best {monitored[0].monitor} on the validation split " + (
                "(LEAKY segment-level split: validation shares recordings with training and test)"
                if (dm.split_info or {}).get("leaky") else "(disjoint from the test set)")
        else:
            if last_ckpt is None:
                raise RuntimeError("The fit saved no last.ckpt: keep a ModelCheckpoint(save_last=true) in the config.")
            ckpt = last_ckpt
            selection = "last epoch" + (" (test set = validation set: nothing selected on it)" if test_is_val else "")
        fit_info = {
            "checkpoint": ckpt,
            "last_checkpoint": last_ckpt,
            "selection": selection,
            "test_is_val": test_is_val,
            "log_dir": trainer.log_dir,
            "epochs": trainer.current_epoch,
            "fit_seconds": time.time() - started,
        }
        done.write_text(json.dumps(fit_info, indent=2) + "\n")
    # Where a checkpoint was selected on validation, the last epoch is tested too: a second reading that selects
    # nothing, showing what the selection is worth. Tested first: both tests write the run's test_metrics.json,
    # which must end up holding the reported (selected) checkpoint's metrics.
    last_metrics = None
    # fit_done.json files written before the last epoch was recorded: the run folder's last.ckpt is that epoch
    last_ckpt = fit_info.get("last_checkpoint") or (str(last) if last.is_file() else None)
    selected = Path(last_ckpt).resolve() != Path(fit_info["checkpoint"]).resolve() if last_ckpt else True
    if selected and not (last_ckpt and Path(last_ckpt).is_file()):
        print(f"{trial_dir.name}: no last-epoch checkpoint ({last_ckpt or last} is missing); the trial reports its "
              "selected checkpoint only, and its group gets no last-epoch reading", flush=True)
    elif selected:
        last_test = cli_main(["test", *args, f"--ckpt_path={last_ckpt}"])
        last_metrics = json.loads((Path(last_test.trainer.log_dir or last_test.trainer.default_root_dir)
                                   / "test_metrics.json").read_text())
    test = cli_main(["test", *args, f"--ckpt_path={fit_info['checkpoint']}"])
    test_dir = Path(test.trainer.log_dir or test.trainer.default_root_dir).resolve()
    metrics = json.loads((test_dir / "test_metrics.json").read_text())
    history = _val_history(Path(fit_info["log_dir"]) / "metrics.csv")
    test_history = _val_history(Path(fit_info["log_dir"]) / "metrics.csv", prefix="leaky_test/")
    result = {
        **{k: spec.get(k) for k in ("point", "overrides", "protocol", "seed", "fold", "name", "init_seed")},
        "metrics": metrics,
        **({"last_epoch_metrics": last_metrics} if last_metrics else {}),
        **fit_info,
        "val_history": history,
        # per utterance: what a seed ensemble averages; relative to the trial folder, so a moved study still finds it
        "test_predictions": os.path.relpath(test_dir / "test_predictions.csv", trial_dir.resolve()),
        **({"test_history": test_history} if test_history else {}),
        # where the test ran (the model's device, test_metrics.json), not merely what this process could see
        "device": metrics.get("device") or (torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"),
        "threads": torch.get_num_threads(),
        "wall_seconds": time.time() - started,
        "args": spec["args"],
    }
    (trial_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# ---------------------------------------------------------------------------------------- carry finished trials
#: An absolute folder of one machine (what a committed file must never hold); the study ledger checks it too.
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:root|home|tmp|work|Users|mnt|scratch)/")
#: What a carried trial writes in place of the corpus folder, feature pack or feature cache that this machine read.
ROOT_PLACEHOLDERS = {"--data.root": "CORPUS_DIR", "--data.pack": "CORPUS_PACK", "--data.cache_dir": "CACHE_DIR"}
#: result.json keys that name files of the trial's own run folder (checkpoints, logs): carried as relative paths.
_RUN_PATH_KEYS = ("checkpoint", "last_checkpoint", "log_dir")
#: What two carried results must share to be the same trial (the rest names files and folders).
_SAME_TRIAL_KEYS = (*SCALAR_KEYS, "confusion_matrix")


def _replace_folder(text: str, folder: str, by: str) -> str:
    """``text`` with the folder ``folder`` (absolute; with a trailing slash: the prefix of what lies in it) written
    ``by`` wherever it stands as a whole folder, not inside a longer name (``/data/EMO`` leaves ``/data/EMODB2``
    and ``/mnt/data/EMO`` alone)."""
    if folder.rstrip("/") == "":
        return text
    end = "" if folder.endswith("/") else r"(?=/|$|[\s\"',;:=])"  # a folder given with its slash is a prefix
    return re.sub(rf"(?<![\w.~/-]){re.escape(folder)}{end}", lambda _: by, text)


def home_tilde(text: str) -> str:
    """``text`` with the home folder written ``~`` (the form the committed study files and commands use)."""
    return _replace_folder(text, str(Path.home()), "~")


def _local(text: str) -> str:
    """``text`` with the folder the runner runs in (the repository, where the configs are) made relative and the
    home folder written ``~``."""
    here = str(Path.cwd().resolve())
    return home_tilde(_replace_folder(text, here + "/", "") if here != "/" else text)


def portable_args(args: list[str]) -> list[str]:
    """A trial's ``ser`` arguments with the corpus folder, feature pack and feature cache replaced by placeholders
    (``CORPUS_DIR``, ``CORPUS_PACK``, ``CACHE_DIR``) and the working folder made relative: what two machines running
    the same trial agree on. A corpus folder and a feature pack stay different sources (the pack's features are
    rounded), so a trial run from one is not counted for a command that reads the other."""
    out: list[str] = []
    for i, tok in enumerate(args):
        key, eq, _ = tok.partition("=")
        if i and args[i - 1] in ROOT_PLACEHOLDERS:
            tok = ROOT_PLACEHOLDERS[args[i - 1]]
        elif eq and key in ROOT_PLACEHOLDERS:
            tok = f"{key}={ROOT_PLACEHOLDERS[key]}"
        out.append(_local(tok))
    return out


def _roots(args: list[str]) -> list[tuple[str, str]]:
    """This machine's corpus folder, feature pack and feature cache in ``args`` -> their placeholder, as given and
    as resolved (a symlinked root appears in files both ways); longest first, so a nested folder goes first."""
    found: dict[str, str] = {}
    for i, tok in enumerate(args):
        key, eq, value = tok.partition("=")
        if i and args[i - 1] in ROOT_PLACEHOLDERS:
            key, value = args[i - 1], tok
        elif not (eq and key in ROOT_PLACEHOLDERS):
            continue
        for form in (Path(value).expanduser().absolute(), Path(value).expanduser().resolve()):
            found[str(form)] = ROOT_PLACEHOLDERS[key]
    return sorted(found.items(), key=lambda kv: -len(kv[0]))


class _Carrier:
    """Writes one finished trial's files without this machine's folders."""

    def __init__(self, trial_dir: Path, args: list[str]) -> None:
        self.trial_dir = trial_dir.resolve()
        self.roots = _roots(args)

    def value(self, text: str) -> str:
        """One string of a result file (a path, an argument, a log line): the trial folder made relative, the
        corpus, pack and cache written as placeholders, the working folder relative and home written ``~``."""
        if "/" not in text:  # numbers, labels, names: most cells of a predictions file
            return text
        text = _replace_folder(text, str(self.trial_dir) + "/", "")
        for root, placeholder in self.roots:
            text = _replace_folder(text, root, placeholder)
        return _local(text)

    def run_path(self, path: str) -> str:
        """A file of the trial's run folder, wherever the runner wrote it from (``--out`` may be relative): relative
        to the trial folder."""
        rel = os.path.relpath(Path(path).resolve(), self.trial_dir)
        return rel if not rel.startswith("..") else self.value(path)

    def tree(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.value(obj)
        if isinstance(obj, list):
            return [self.tree(v) for v in obj]
        if isinstance(obj, dict):
            return {k: self.tree(v) for k, v in obj.items()}
        return obj

    def checked(self, text: str, what: Path) -> str:
        if leak := MACHINE_PATH.search(text):
            raise SystemExit(f"{what}: would carry a folder of this machine "
                             f"(...{text[max(0, leak.start() - 40):leak.start() + 60]}...) that no other machine has; "
                             "carry trials whose files lie under --out, --data.root, --data.pack, --data.cache_dir, "
                             "the folder the runner ran in, or the home folder")
        return text


def export_finished(out: Path, dest: Path) -> list[str]:
    """Copy every finished trial of the experiment ``out`` to ``dest`` in a form another machine can resume from:
    ``<point>/<trial>/result.json`` and its reported ``test_predictions.csv``, with the trial folder made relative,
    the corpus folder written ``CORPUS_DIR`` (``CORPUS_PACK``, ``CACHE_DIR``) and the home folder ``~``; no
    checkpoints, no logs; refused, naming the file, where a folder of this machine would remain. Returns the trials
    copied. :func:`import_finished` puts them into another ``--out``, where the runner counts them as done."""
    copied = []
    for result_path in sorted(out.glob("*/*/result.json")):
        trial_dir = result_path.parent
        result = json.loads(result_path.read_text())
        carrier = _Carrier(trial_dir, result.get("args", []))
        pred = trial_predictions_csv(result, trial_dir)
        run_paths = {k: carrier.run_path(result[k]) for k in _RUN_PATH_KEYS if isinstance(result.get(k), str)}
        result = {**carrier.tree(result), **run_paths}
        target = dest / trial_dir.parent.name / trial_dir.name
        if pred is not None:
            rel = carrier.run_path(str(pred))
            if rel.startswith(("..", "/", "~")):
                raise SystemExit(f"{pred}: the trial's test predictions lie outside its folder {trial_dir}; "
                                 "carry only trials that ser-experiment ran")
            result["test_predictions"] = rel
            with pred.open(newline="") as fh:
                rows = [[carrier.value(cell) for cell in row] for row in csv.reader(fh)]
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text(carrier.checked(buf.getvalue(), pred))
        else:
            print(f"{trial_dir}: no test_predictions.csv; carried without it (no seed ensemble or error table "
                  "can use this trial)", flush=True)
            result.pop("test_predictions", None)
        target.mkdir(parents=True, exist_ok=True)
        (target / "result.json").write_text(carrier.checked(json.dumps(result, indent=2) + "\n", result_path))
        copied.append(f"{trial_dir.parent.name}/{trial_dir.name}")
    return copied


def _same_trial(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ma, mb = a.get("metrics", {}), b.get("metrics", {})
    return all(ma.get(k) == mb.get(k) for k in _SAME_TRIAL_KEYS)


def import_finished(src: Path, out: Path) -> list[str]:
    """Put the trials :func:`export_finished` wrote to ``src`` into the experiment folder ``out``, their run files
    named under their new folder; a trial ``out`` already finished is kept if it scored the same (the machine that
    exported it) and refused otherwise. Returns the trials put in. The same ser-experiment command then runs only
    the rest."""
    found = sorted(src.glob("*/*/result.json"))
    if not found:
        raise SystemExit(f"--import-finished {src}: holds no <point>/<trial>/result.json; expected a folder that "
                         "`ser-experiment --out ... --export-finished` wrote")
    put = []
    for result_path in found:
        name = f"{result_path.parent.parent.name}/{result_path.parent.name}"
        result = json.loads(result_path.read_text())
        target = out / name
        if (target / "result.json").is_file():
            if not _same_trial(json.loads((target / "result.json").read_text()), result):
                raise SystemExit(f"{target / 'result.json'}: already holds a finished trial {name} that scored "
                                 f"otherwise than {result_path}; import into another --out, or delete {target} first")
            continue
        rel = result.get("test_predictions")
        if rel and (Path(rel).is_absolute() or ".." in Path(rel).parts):
            raise SystemExit(f"{result_path}: test_predictions {rel!r} leaves the trial folder; expected the path "
                             "--export-finished writes (inside it)")
        target.mkdir(parents=True, exist_ok=True)
        for key in _RUN_PATH_KEYS:
            if isinstance(result.get(key), str) and not result[key].startswith(("/", "~")):
                result[key] = str(target.resolve() / result[key])
        if rel and (result_path.parent / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result_path.parent / rel, target / rel)
        elif rel:
            raise SystemExit(f"{result_path.parent / rel}: missing, but {result_path} names it; export the trial again")
        (target / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        put.append(name)
    return put


# ---------------------------------------------------------------------------------------- aggregate
def _mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.mean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def aggregate(results: list[dict[str, Any]], folder: Path | None = None) -> list[dict[str, Any]]:
    """Mean +- std (sample std over trials), per-class recall and pooled confusion per point/protocol, and the seed
    ensemble where a split was trained several times (``folder``: the experiment folder holding the trials)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["point"], r["protocol"]), []).append(r)
    out = []
    for (point, protocol), rows in groups.items():
        metrics = [r["metrics"] for r in rows]
        names = metrics[0]["class_names"]
        summary: dict[str, Any] = {
            "point": point,
            "overrides": rows[0]["overrides"],
            "protocol": protocol,
            "trials": sorted(r["name"] for r in rows),
            "n": len(rows),
            "test_is_val": any(r["test_is_val"] for r in rows),
            # the leaky segment-level split (data.split_unit=segment): a diagnostic, never a model's score
            "leaky": any(bool((m.get("split") or {}).get("leaky")) for m in metrics),
            "selection": sorted({r["selection"] for r in rows}),
            "metrics": {k: _mean_std([m[k] for m in metrics]) for k in SCALAR_KEYS if all(k in m for m in metrics)},
            "recall": {c: _mean_std([m[f"recall/{c}"] for m in metrics]) for c in names if all(f"recall/{c}" in m for m in metrics)},
            "class_names": names,
            # What the figures and reports say a group is: model, corpus, epochs trained.
            "model": metrics[0].get("model") or _model_from_run(rows[0]),
            "corpus": (metrics[0].get("split") or {}).get("corpus"),
            "epochs": sorted({r["epochs"] for r in rows if r.get("epochs") is not None}),
            "confusion_matrix": [
                [sum(int(m["confusion_matrix"][i][j]) for m in metrics) for j in range(len(names))] for i in range(len(names))
            ],
        }
        vals = [r["val_history"] for r in rows if r.get("val_history")]
        if vals and not summary["test_is_val"]:
            # The validation UA a grid winner may be chosen on: a best-on-validation run's best epoch by UA (its
            # checkpoint is picked by its `selection` metric, e.g. WA, so the tested epoch's UA can be a little
            # lower); a last-epoch run's last epoch. Validation only either way: nothing is read off the test set.
            at_tested = [ua for r in rows if (ua := _val_at(r)) is not None]
            summary["val_ua"] = _mean_std(at_tested or [float("nan")])
        if all("last_epoch_metrics" in r for r in rows):
            # Not leaky: the same runs' last epoch, tested beside the checkpoint selected on validation.
            summary["last_epoch"] = {
                "wa": _mean_std([r["last_epoch_metrics"]["wa"] for r in rows]),
                "ua": _mean_std([r["last_epoch_metrics"]["ua"] for r in rows]),
                "note": "the same runs' last epoch: nothing selected (the reported row tests the checkpoint best on validation)",
            }
        if vals and summary["test_is_val"]:
            # Leaky diagnostic: the best epoch picked on the reported set itself.
            summary["best_epoch_on_reported_set"] = {
                "wa": _mean_std([max(h["wa"] for h in v) for v in vals]),
                "ua": _mean_std([max(h["ua"] for h in v) for v in vals]),
                "note": "LEAKY: epoch chosen on the reported (test = validation) set; optimistic",
            }
        ensemble = seed_ensemble(rows, names, folder)
        if ensemble:
            summary["ensemble"] = ensemble
        tests = [r["test_history"] for r in rows if r.get("test_history")]
        if tests and len(tests) == len(rows) and not summary["test_is_val"]:
            # Leaky diagnostic where the test set is held out: its own per-epoch curve (ReportedSetCurve).
            summary["best_epoch_on_reported_set"] = {
                "wa": _mean_std([max(h["wa"] for h in v) for v in tests]),
                "ua": _mean_std([max(h["ua"] for h in v) for v in tests]),
                "note": "LEAKY: epoch chosen on the held-out test set itself (its curve, ReportedSetCurve); optimistic",
            }
        out.append(summary)
    return out


def trial_predictions_csv(result: dict[str, Any], trial_dir: Path | None) -> Path | None:
    """The reported test's ``test_predictions.csv``: ``result["test_predictions"]`` (relative to the trial folder),
    else the test folder beside the fit's (``<run>-test``, results written before it was recorded); None if absent."""
    rel = result.get("test_predictions")
    candidates = [Path(rel)] if rel and Path(rel).is_absolute() else []
    if trial_dir is not None:
        candidates += [trial_dir / rel] if rel and not Path(rel).is_absolute() else []
        candidates.append(trial_dir / "run" / "run-test" / "test_predictions.csv")  # ser-experiment's own layout
    if result.get("log_dir"):
        log_dir = Path(result["log_dir"])
        candidates.append(log_dir.with_name(f"{log_dir.name}-test") / "test_predictions.csv")
    return next((p for p in candidates if p.is_file()), None)


def _utterance_probs(path: Path, names: list[str]) -> dict[int, tuple[int, list[float]]]:
    """utt_index -> (true class, class probabilities) of one trial's test_predictions.csv."""
    out = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            out[int(row["utt_index"])] = (names.index(row["label"]), [float(row[f"p_{c}"]) for c in names])
    return out


def seed_ensemble(rows: list[dict[str, Any]], names: list[str], folder: Path | None = None) -> dict[str, Any] | None:
    """The seed ensemble of a group trained several times per split (speaker folds with several ``--fold-seeds``,
    paper splits with ``--init-seeds``): per split, the members' per-utterance class probabilities averaged (each
    member's reported checkpoint; nothing selected), scored like any trial; mean +- std over splits. ``None`` where
    every split has one trial. ``trial_ua`` is keyed by the split's name in a one-seed experiment
    (``speaker-fold3-seed0`` with its first seed, ``paper-seed2``), so it pairs with the baseline's trials. A tie
    between classes goes to the first in class order (as ``argmax``). ``folder``: the experiment folder, where each
    trial's predictions are looked up (``<folder>/<point>/<trial>/``); a trial without them skips the ensemble, with
    a warning."""
    import torch

    from sermodels.metrics import classification_metrics

    by_split: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        if r["protocol"] == "speaker" and r.get("fold") is not None:
            by_split.setdefault(("speaker", r["fold"]), []).append(r)
        elif r["protocol"] == "paper" and r.get("init_seed") is not None:
            by_split.setdefault(("paper", r["seed"]), []).append(r)
    splits = {  # the split's name in a one-seed experiment -> its members
        (f"speaker-fold{k}-seed{min(r.get('seed', 0) for r in m)}" if p == "speaker" else f"paper-seed{k}"): m
        for (p, k), m in by_split.items()
    }
    if not splits or all(len(m) == 1 for m in splits.values()):
        return None
    sizes = sorted({len(m) for m in splits.values()})
    if len(sizes) > 1:
        warnings.warn(f"seed ensemble not scored: splits have {sizes} members each (re-run the experiment to finish "
                      "every split's seeds)", stacklevel=2)
        return None
    paths = {r["name"]: trial_predictions_csv(r, folder / r["point"] / r["name"] if folder is not None else None)
             for r in rows}
    if missing := sorted(n for n, p in paths.items() if p is None):
        warnings.warn(f"seed ensemble not scored: no test_predictions.csv for {missing} (rerun those trials: delete "
                      "their result.json and re-run the experiment, which resumes)", stacklevel=2)
        return None
    per_split: dict[str, dict[str, float]] = {}
    for split, members in sorted(splits.items()):
        tables = [_utterance_probs(paths[r["name"]], names) for r in members]  # type: ignore[arg-type]
        utts = sorted(tables[0])
        if any(sorted(t) != utts for t in tables[1:]) or any(t[u][0] != tables[0][u][0] for t in tables[1:] for u in utts):
            raise ValueError(f"{split}: the seeds' test sets differ ({[r['name'] for r in members]}: other utterances "
                             "or labels); an ensemble needs the same test utterances")
        probs = torch.tensor([[sum(t[u][1][c] for t in tables) / len(tables) for c in range(len(names))] for u in utts])
        target = torch.tensor([tables[0][u][0] for u in utts])
        m = classification_metrics(probs.argmax(dim=1), target, len(names), names)
        per_split[split] = {"wa": float(m["wa"]), "ua": float(m["ua"])}
    return {
        "members": sizes[0],
        "seeds": sorted({r["init_seed"] if r.get("init_seed") is not None else r.get("seed", 0) for r in rows}),
        "wa": _mean_std([v["wa"] for v in per_split.values()]),
        "ua": _mean_std([v["ua"] for v in per_split.values()]),
        "trial_ua": {k: v["ua"] for k, v in per_split.items()},
        "trial_wa": {k: v["wa"] for k, v in per_split.items()},
        "note": "the seeds' class probabilities averaged per utterance, per split (each member's reported checkpoint); "
                "mean +- std over splits; nothing selected",
    }


def _model_from_run(result: dict[str, Any]) -> str | None:
    """The net's class name from the trial's saved config.yaml (results written before they named it)."""
    import yaml

    path = Path(result.get("log_dir") or "") / "config.yaml"
    if not path.is_file():
        return None
    model = (yaml.safe_load(path.read_text()) or {}).get("model") or {}
    net = ((model.get("init_args") or {}).get("net") or {}).get("class_path") or model.get("class_path")
    return str(net).rsplit(".", 1)[-1] if net else None


def _val_at(result: dict[str, Any]) -> float | None:
    history = result.get("val_history") or []
    if not history:
        return None
    if result["selection"].startswith("best"):
        return max(h["ua"] for h in history)
    return history[-1]["ua"]


def _fmt(stat: dict[str, float] | None) -> str:
    if not stat:
        return "—"
    return f"{100 * stat['mean']:.2f} ± {100 * stat['std']:.2f}"


def summary_markdown(groups: list[dict[str, Any]], title: str, command: str) -> str:
    """The aggregate as a Markdown table, with what was selected on what."""
    lines = [f"# {title}", "", f"Command: `{command}`", "",
             "Utterance-level test metrics, mean ± sample std over trials (%). `paper` = seeded random split "
             "of utterances (speaker-dependent); `speaker` = speaker-independent folds.", "",
             "| point | protocol | n | WA | UA | macro F1 | weighted F1 | selection |",
             "|---|---|---|---|---|---|---|---|"]
    for g in groups:
        m = g["metrics"]
        lines.append(
            f"| {g['point']} | {g['protocol']}{' (**LEAKY** segment-level split)' if g.get('leaky') else ''} | {g['n']} | "
            f"{_fmt(m.get('wa'))} | {_fmt(m.get('ua'))} | "
            f"{_fmt(m.get('macro_f1'))} | {_fmt(m.get('weighted_f1'))} | {'; '.join(g['selection'])} |"
        )
    lines.append("")
    for protocol in sorted({g["protocol"] for g in groups}):
        rows = [g for g in groups if g["protocol"] == protocol and not g.get("leaky")]  # a leaky point never wins
        if len(rows) < 2:
            continue
        if any(g["test_is_val"] for g in rows):
            lines.append(f"- {protocol}: no grid winner is named: the reported set is the validation set.")
        elif all("val_ua" in g for g in rows):
            best = max(rows, key=lambda g: g["val_ua"]["mean"])
            lines.append(f"- {protocol}: chosen on validation UA (never on test): **{best['point']}** "
                         f"(val UA {_fmt(best['val_ua'])}, test UA {_fmt(best['metrics'].get('ua'))}).")
    for g in groups:
        if "best_epoch_on_reported_set" in g:
            b = g["best_epoch_on_reported_set"]
            lines.append(f"- {g['point']} / {g['protocol']}: best epoch picked on the reported set "
                         f"(LEAKY, optimistic): WA {_fmt(b['wa'])}, UA {_fmt(b['ua'])}.")
    for g in groups:
        if "ensemble" in g:
            e = g["ensemble"]
            lines.append(f"- {g['point']} / {g['protocol']}: ensemble of the {e['members']} training seeds per split "
                         f"(probabilities averaged per utterance; nothing selected), over {len(e['trial_ua'])} splits: "
                         f"WA {_fmt(e['wa'])}, UA {_fmt(e['ua'])}.")
    for g in groups:
        if "last_epoch" in g:
            b = g["last_epoch"]
            lines.append(f"- {g['point']} / {g['protocol']}: the same runs' last epoch (nothing selected): "
                         f"WA {_fmt(b['wa'])}, UA {_fmt(b['ua'])}.")
    for g in groups:
        recall = ", ".join(f"{c} {100 * s['mean']:.1f}" for c, s in g["recall"].items())
        lines.append(f"- {g['point']} / {g['protocol']} per-class recall (mean): {recall}.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- main
def _threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def check_finished(trials: list[Trial], out: Path) -> None:
    """Refuse to go on with a trial of ``out`` that was run with other arguments than ``trials`` give it (another
    config in the same folder, or a carried trial of another experiment): a finished one would be counted, a killed
    one resumed from its checkpoint under the new arguments. The corpus and cache folders may differ."""
    for t in trials:
        d = out / t.point / t.name
        made_with = None
        if (d / "result.json").is_file():
            made_with, what = json.loads((d / "result.json").read_text()).get("args"), d / "result.json"
        elif (d / "trial.json").is_file() and ((d / "fit_done.json").is_file() or any(d.glob("run/*/checkpoints/*.ckpt"))):
            made_with, what = json.loads((d / "trial.json").read_text()).get("args"), d / "trial.json"
        if made_with is None:
            continue
        before, now = portable_args(made_with), portable_args(t.args())
        if before != now:
            differ = sorted(set(before) ^ set(now)) or [f"order: {shlex.join(before)} against {shlex.join(now)}"]
            state = "finished" if what.name == "result.json" else "started"
            raise SystemExit(f"{what}: this {state} trial was run with other arguments than this command gives it "
                             f"(they differ in {' '.join(map(shlex.quote, differ))}); give the experiment another "
                             f"--out, or delete {d} to run it again")


def run_all(trials: list[Trial], out: Path, jobs: int, threads: int | None) -> list[dict[str, Any]]:
    """Run the pending trials, ``jobs`` at a time, each in its own process; return every result."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads or _threads_per_job(jobs))
    env.setdefault("PYTHONUNBUFFERED", "1")
    pending: list[tuple[Trial, Path]] = []
    for t in trials:
        d = out / t.point / t.name
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "result.json").is_file():
            spec = {**asdict(t), "name": t.name, "args": t.args()}
            spec.pop("passthrough")
            (d / "trial.json").write_text(json.dumps(spec, indent=2) + "\n")
            pending.append((t, d))
    total, done_before = len(trials), len(trials) - len(pending)
    print(f"{total} trials, {done_before} already done, {len(pending)} to run ({jobs} at a time, "
          f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']})", flush=True)
    if jobs > 1 and len(pending) > 1:
        _fill_caches(pending, env)
    running: list[tuple[Trial, Path, subprocess.Popen, float, Any]] = []
    failed: list[str] = []
    finished = 0
    started = time.time()
    queue = list(pending)
    while queue or running:
        while queue and len(running) < jobs:
            t, d = queue.pop(0)
            log = (d / "log.txt").open("a")
            proc = subprocess.Popen([sys.executable, "-m", "sermodels.experiment", "--trial", str(d)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
            running.append((t, d, proc, time.time(), log))
        time.sleep(0.5)
        for item in list(running):
            t, d, proc, t0, log = item
            if proc.poll() is None:
                continue
            running.remove(item)
            log.close()
            finished += 1
            elapsed = time.time() - started
            eta = elapsed / finished * (len(pending) - finished)
            if proc.returncode == 0 and (d / "result.json").is_file():
                m = json.loads((d / "result.json").read_text())["metrics"]
                print(f"[{done_before + finished}/{total}] {t.point}/{t.name}: WA {100 * m['wa']:.2f} UA {100 * m['ua']:.2f} "
                      f"({time.time() - t0:.0f} s; ETA {eta / 60:.1f} min)", flush=True)
            else:
                failed.append(f"{t.point}/{t.name}")
                print(f"[{done_before + finished}/{total}] {t.point}/{t.name} FAILED (exit {proc.returncode}); "
                      f"see {d / 'log.txt'}; re-run the same command to resume it", flush=True)
    if failed:
        raise SystemExit(f"{len(failed)} trial(s) failed: {failed}. Finished trials are kept; re-run to retry the rest.")
    return [json.loads((out / t.point / t.name / "result.json").read_text()) for t in trials]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--trial"]:
        run_trial(Path(argv[1]))
        return
    if argv[:1] == ["--prepare"]:
        prepare_setting([Path(a) for a in argv[1:]])
        return
    own, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(prog="ser-experiment", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="experiment folder (re-run with the same folder to resume)")
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="paper protocol: one trial per seed")
    ap.add_argument("--folds", action="store_true", help="speaker protocol: every fold of the corpus")
    ap.add_argument("--fold-seeds", type=int, nargs="+", default=[0], help="training seeds per fold (default 0)")
    ap.add_argument("--init-seeds", type=int, nargs="+", default=None,
                    help="paper protocol: train each split (--seeds) once per initialisation seed; the aggregate adds "
                         "their seed ensemble (default: one training per split, seeded like the split)")
    ap.add_argument("--grid", default=None, help="W&B sweep YAML whose parameter values form the grid")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=V1,V2",
                    help="a grid axis (repeatable), e.g. model.init_args.net.init_args.num_heads=4,8")
    ap.add_argument("--jobs", type=int, default=1, help="trials at once (default 1)")
    ap.add_argument("--threads", type=int, default=None, help="threads per trial (default: cores / jobs)")
    ap.add_argument("--title", default=None, help="title of summary.md")
    ap.add_argument("--dry-run", action="store_true", help="list the trials and exit")
    ap.add_argument("--aggregate-only", action="store_true",
                    help="run nothing: rebuild aggregate.json, summary.md and the figures from the trials' result.json")
    ap.add_argument("--export-finished", metavar="DIR", default=None,
                    help="run nothing: copy --out's finished trials (results and test predictions, no checkpoints, "
                         "no folders of this machine) to DIR, to resume the experiment on another machine")
    ap.add_argument("--import-finished", metavar="DIR", default=None,
                    help="run nothing: put the finished trials that --export-finished wrote to DIR into --out; "
                         "the same command then runs only the rest")
    args = ap.parse_args(own)
    if args.export_finished or args.import_finished:
        if args.export_finished and args.import_finished:
            ap.error("--export-finished and --import-finished: give one")
        if args.export_finished:
            if not Path(args.out).is_dir():
                ap.error(f"--out {args.out}: no such experiment folder to export from")
            moved = export_finished(Path(args.out), Path(args.export_finished))
            where = f"{args.out} -> {args.export_finished}"
        else:
            moved = import_finished(Path(args.import_finished), Path(args.out))
            where = f"{args.import_finished} -> {args.out}"
        print(f"{len(moved)} finished trial(s) {'exported' if args.export_finished else 'imported'} ({where})"
              + "".join(f"\n  {m}" for m in moved), flush=True)
        return
    if args.aggregate_only:
        out = Path(args.out)
        found = sorted(out.glob("*/*/result.json"))
        if not found:
            ap.error(f"--aggregate-only: {out} holds no */*/result.json")
        previous = out / "experiment.json"
        command = json.loads(previous.read_text())["command"] if previous.is_file() else "ser-experiment " + shlex.join(argv)
        _write_aggregate([json.loads(p.read_text()) for p in found], out, args.title or f"Experiment {out.name}", command)
        return
    if not args.seeds and not args.folds:
        ap.error("nothing to run: give --seeds S [S ...] (paper protocol) and/or --folds (speaker protocol)")
    if args.init_seeds and not args.seeds:
        ap.error("--init-seeds trains each paper-protocol split (--seeds) once per seed: give --seeds too "
                 "(speaker folds take --fold-seeds)")
    for flag, values in (("--seeds", args.seeds), ("--fold-seeds", args.fold_seeds), ("--init-seeds", args.init_seeds)):
        if values and len(set(values)) != len(values):
            ap.error(f"{flag} {' '.join(map(str, values))}: a seed is repeated (each trial must be distinct)")
    if args.jobs < 1:
        ap.error(f"--jobs must be >= 1, got {args.jobs}")
    if not passthrough:
        ap.error("give the trainer/model/corpus configs after --, e.g. "
                 "-- -c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/emodb.yaml --data.root /data/EMODB")
    out = Path(args.out)
    points = grid_points(args.grid, args.sets)
    trials = plan_trials(passthrough, points, args.seeds, args.folds, args.fold_seeds, args.init_seeds)
    if args.dry_run:
        for t in trials:
            print(f"{t.point}/{t.name}: ser fit {' '.join(t.args())}")
        return
    check_finished(trials, out)
    out.mkdir(parents=True, exist_ok=True)
    command = "ser-experiment " + shlex.join(argv)  # copy-pasteable: titles with spaces stay quoted
    (out / "experiment.json").write_text(json.dumps({"command": command, "points": points}, indent=2, default=str) + "\n")
    results = run_all(trials, out, args.jobs, args.threads)
    _write_aggregate(results, out, args.title or f"Experiment {out.name}", command)


def _write_aggregate(results: list[dict[str, Any]], out: Path, title: str, command: str) -> None:
    groups = aggregate(results, out)
    (out / "aggregate.json").write_text(json.dumps({"command": command, "groups": groups}, indent=2) + "\n")
    md = summary_markdown(groups, title, command)
    (out / "summary.md").write_text(md)
    _figures(groups, out)
    print(md)


def _figures(groups: list[dict[str, Any]], out: Path) -> None:
    """A pooled confusion matrix per point and protocol, titled with model, corpus, protocol and N."""
    import torch

    from sermodels.plots import plot_confusion_matrix

    for g in groups:
        n_utt = sum(sum(row) for row in g["confusion_matrix"])
        title = (f"{g.get('model') or out.name}: confusion matrix pooled over {g['n']} trials ({g['point']})\n"
                 f"{g.get('corpus') or '?'}, {g['protocol']} protocol; N = {n_utt} test utterances")
        plot_confusion_matrix(torch.tensor(g["confusion_matrix"]), g["class_names"],
                              out / g["point"] / f"confusion_{g['protocol']}.png", title)


if __name__ == "__main__":
    main()
