"""The GPU check: one command, under 8 minutes on one CUDA GPU, that says whether the GPU path works and how fast it is.

Usage:
  python bench/gpu_check.py                      # on a CUDA machine: every stage, report in runs/gpu_check/
  python bench/gpu_check.py --dry-run            # every stage on the CPU at tiny sizes (part of `make test`)
  python bench/gpu_check.py --stages env,step --models m --batches 512   # a part of it

Stages, in this order (each one's failure is recorded and the next one runs; the exit status is 1 if any failed):
  env        torch, CUDA, cuDNN, the GPU, its memory, bf16 support, Python, the packages
  images     2,000 contest-like PNGs from the held-out built-in letters (`dirtymnist.synth.synthesize`), with labels
  step       the standard recipe's training step through the project's own Learner (`dirtymnist.learner.build_learner`,
             every training callback of the config): `tf_efficientnetv2_m_in21k` and `_s` at 384 px, untrained weights,
             batch 64, 128 and 512, bf16 and fp16, gradient checkpointing on and off, channels_last; images/s and peak
             memory. One fixed batch already on the GPU (`bench/train.py`'s `fixed_dls`), so the figure is the step
             alone; 2 warm-up steps (cuDNN autotuning), then 2 timed. A configuration that runs out of memory is
             recorded, and the larger batches of the same setting are skipped. The stage gets the time the later
             stages leave of `--budget`; what does not fit is recorded as skipped (`--full`: every combination).
  input      the input path at the batch the step was timed at: `dirtymnist.data.get_dls` over the PNG folder, and over
             online synthesis, each with the per-batch GPU augmentation (`aug='gpu'`), images/s against the step's:
             can it feed the step?
  predict    `dirtymnist.predict.predict` of the 2,000 PNGs with 4x rot90 TTA by the m network (untrained) at 384 px
  fast       the `fast` recipe (`cpu_fast`) trained on CUDA by `dirtymnist.learner.train` for 3 minutes, then scored
             on the 2,000 held-out images with TTA (contest metric)
  papermill  `papermill nbs/train.ipynb` (standard recipe, `tf_efficientnetv2_s_in21k` at 384 px on online synthesis)
             for 90 s, killed with its kernel just after a resume checkpoint is complete, and resumed from it
             (`resume_from`) for 15 s: the resumed run must start after the checkpoint's step, log further steps and
             save its model. (A kill between the checkpoint's tensors and its JSON resumes from the checkpoint before:
             its weights stay as `<stem>.prev.safetensors` until the new JSON is in place.)

Time plan on one GPU (`--budget`, default 470 s): the fast stage's 3 minutes and the papermill stage's 90 + 15 s are
fixed; the step stage gets what the others leave (about 80 s: the first settings of the matrix, m then s); run
`--stages step --budget 470` (with `--full` for every combination) for the whole matrix as a second command.

Everything goes to one JSON (`gpu_check.json`) and one markdown report (`gpu_check.md`) in `--out`.
The papermill runs use a kernel spec of this interpreter written to a temporary JUPYTER_PATH (nothing is installed).
cuDNN is set as `dirtymnist_train` sets it (`dirtymnist.learner.cudnn_flags(train.deterministic)`; `--deterministic`).
Without CUDA (and without `--dry-run`) it says so and exits with status 2.
"""
import argparse, contextlib, gc, importlib.util, io, json, os, platform, shutil, signal, subprocess, sys, tempfile
import time, traceback, warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dirtymnist.core import run_state                                 # noqa: E402
from dirtymnist.config import load_config                              # noqa: E402
from dirtymnist.labels import atomic_write, read_labels                # noqa: E402
from dirtymnist.learner import build_learner, cudnn_flags, train       # noqa: E402

_spec = importlib.util.spec_from_file_location('bench_train', Path(__file__).resolve().parent/'train.py')
bench_train = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bench_train)

STAGES = ['env', 'images', 'step', 'input', 'predict', 'fast', 'papermill']
MODELS = {'m': 'tf_efficientnetv2_m_in21k', 's': 'tf_efficientnetv2_s_in21k'}
# (precision, gradient checkpointing, channels_last), most telling first; --full: every combination
VARIANTS = [('bf16', True, False), ('bf16', False, False), ('fp16', True, False), ('bf16', True, True)]
FULL = [(p, c, cl) for p in ('bf16', 'fp16', 'fp32') for c in (True, False) for cl in (False, True)]

# sizes and times of the real check, and of the dry run (tiny, on the CPU, under two minutes on 2 cores)
GPU = dict(device='cuda', step_floor=45, size=384, batches=[64, 128, 512], warmup=2, steps=2, images=2000, input_bs=128,
           input_batches=12, predict_bs=128, fast_minutes=3.0, pm_first_s=90, pm_resume_min=0.25, budget=470,
           model_override=[], pm_config='tf_efficientnetv2_s_in21k',
           pm_overrides=['data.num_train=8192', 'data.num_valid=512', 'train.batch_size=64', 'data.image_size=384',
                         'train.validation_interval=0.25', 'train.epochs=1000', 'train.log_every_n_steps=5'],
           fast_overrides=[])
# the dry run's budget is only a safety net (a loaded machine must not fail `make test`): about 45 s of CPU time
DRY = dict(device='cpu', size=32, batches=[4], s_variants=1, step_floor=90, warmup=1, steps=2, images=64, input_bs=4,
           input_batches=3, predict_bs=16, fast_minutes=0.08, pm_first_s=0, pm_resume_min=0.05, budget=600,
           model_override=['model.model_name=test_efficientnet'], pm_config='cpu_small',
           pm_overrides=['model.model_name=test_efficientnet', 'data.num_train=128', 'data.num_valid=16',
                         'train.batch_size=16', 'data.image_size=32', 'train.validation_interval=0.25',
                         'train.epochs=1000', 'train.log_every_n_steps=1', 'data.num_workers=0',
                         'train.precision=fp32'],
           fast_overrides=['model.args.stem=8', 'model.args.layers=[[8,2],[8,1],[8,2],[8,1]]', 'fast.calib_images=8',
                           'data.num_valid=8', 'data.num_train=256', 'train.batch_size=64'])
# what the later stages need (s), reserved when the step stage's share is worked out
RESERVE = dict(input=20, predict=15, fast=15, papermill=45)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dry-run', action='store_true', help='every stage on the CPU at tiny sizes')
    p.add_argument('--out', default=None, help='folder for gpu_check.json and gpu_check.md (default runs/gpu_check)')
    p.add_argument('--stages', default=','.join(STAGES), help=f'comma-separated, of: {",".join(STAGES)}')
    p.add_argument('--models', default='m,s', help='step stage: m, s or both')
    p.add_argument('--batches', default=None, help='step stage: comma-separated batch sizes (default 64,128,512)')
    p.add_argument('--full', action='store_true', help='step stage: every precision x checkpointing x channels_last')
    p.add_argument('--budget', type=float, default=None, help='seconds for the whole check (default 470)')
    p.add_argument('--fast-minutes', type=float, default=None, help='training minutes of the fast stage (default 3)')
    p.add_argument('--papermill-seconds', type=float, default=None, help='seconds before the papermill run is killed')
    p.add_argument('--deterministic', action='store_true', help='train.deterministic=true: deterministic cuDNN')
    p.add_argument('--keep-tmp', action='store_true', help='keep the temporary folder (images, models, checkpoints)')
    return p.parse_args(argv)


class Check:
    "The plan, the clock and the results of one check."
    def __init__(self, a):
        self.a, self.plan = a, dict(DRY if a.dry_run else GPU)
        if a.batches: self.plan['batches'] = [int(b) for b in a.batches.split(',')]
        if a.budget: self.plan['budget'] = a.budget
        if a.fast_minutes is not None: self.plan['fast_minutes'] = a.fast_minutes
        if a.papermill_seconds is not None: self.plan['pm_first_s'] = a.papermill_seconds
        self.dev = self.plan['device']
        self.stages = [s.strip() for s in a.stages.split(',') if s.strip()]
        bad = [s for s in self.stages if s not in STAGES]
        if bad: raise SystemExit(f'--stages: unknown stage(s) {", ".join(bad)}; choose from {", ".join(STAGES)}')
        self.models = [m.strip() for m in a.models.split(',') if m.strip()]
        bad = [m for m in self.models if m not in MODELS]
        if bad: raise SystemExit(f'--models: unknown model(s) {", ".join(bad)}; choose from m, s')
        self.out = Path(a.out or ROOT/'runs'/('gpu_check_dry' if a.dry_run else 'gpu_check'))
        self.tmp = Path(tempfile.mkdtemp(prefix='gpu_check_'))
        self.t0 = time.perf_counter()
        self.res = dict(argv=sys.argv[1:], dry_run=a.dry_run, device=self.dev, plan=dict(self.plan), stages={})

    def elapsed(self): return time.perf_counter() - self.t0
    def left(self): return self.plan['budget'] - self.elapsed()
    def say(self, s): print(f'[{self.elapsed():6.1f} s] {s}', flush=True)
    def sync(self):
        if self.dev == 'cuda': torch.cuda.synchronize()
    def cfg(self, name, overrides=()):
        return load_config(name, [f'train.deterministic={"true" if self.a.deterministic else "false"}', *overrides])
    def peak(self):
        return round(torch.cuda.max_memory_allocated() / 2**30, 2) if self.dev == 'cuda' else None
    def fresh(self):
        gc.collect()
        if self.dev == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()


def _versions():
    from importlib.metadata import version, PackageNotFoundError
    out = {}
    for d in ('dirtymnist', 'fastai', 'fastcore', 'timm', 'albumentations', 'opencv-python-headless', 'numpy', 'pandas',
              'papermill', 'safetensors', 'omegaconf'):
        try: out[d] = version(d)
        except PackageNotFoundError: out[d] = None
    return out


def stage_env(c):
    "The machine: torch, CUDA, cuDNN, GPU, memory, bf16; Python and package versions."
    from dirtymnist.model import fast_bf16
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    e = dict(python=platform.python_version(), platform=platform.platform(), cpus=os.cpu_count(),
             torch=torch.__version__,
             cuda=torch.version.cuda, cudnn=cudnn,
             cuda_available=torch.cuda.is_available(), bf16=fast_bf16(c.dev), packages=_versions())
    if c.dev == 'cuda':
        p = torch.cuda.get_device_properties(0)
        e.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), capability=f'{p.major}.{p.minor}',
                 gpus=torch.cuda.device_count())
    e.update(cudnn_deterministic=torch.backends.cudnn.deterministic, cudnn_autotune=torch.backends.cudnn.benchmark,
             apex=importlib.util.find_spec('apex') is not None)   # without apex, fusedadam falls back to plain adam
    c.say(f'torch {e["torch"]}, CUDA {e["cuda"]}, cuDNN {e["cudnn"]}, '
          + (f'{e["gpu"]} ({e["gpu_memory_gib"]} GiB, sm {e["capability"]})' if c.dev == 'cuda' else 'CPU (dry run)')
          + f', bf16 {e["bf16"]}, Python {e["python"]}')
    return e


def stage_images(c):
    "The held-out images every later stage reads: PNGs of the built-in validation letters, with labels."
    from dirtymnist.data import source_letters
    from dirtymnist.synth import synthesize
    d = c.tmp/'images'
    t = time.perf_counter()
    synthesize(source_letters('builtin-valid'), d, d/'labels.csv', num_images=c.plan['images'], seed=7, progress=False,
               workers=None if c.dev == 'cuda' else 1)
    c.images = d
    return dict(n=c.plan['images'], folder=str(d), seconds=round(time.perf_counter() - t, 1))


def _release(learn):
    "Leave an autocast a failed step left entered (the AMP callback's own `release`)."
    for cb in getattr(learn, 'cbs', []):
        if hasattr(cb, 'release'): cb.release()


def time_step(c, key, bs, prec, ckpt, cl):
    "One configuration of the step stage: images/s, s/step and peak memory through `build_learner`'s Learner."
    p = c.plan
    if c.dev == 'cpu' and prec == 'fp16': prec = 'fp32'   # fp16 needs CUDA; the dry run times fp32 in its place
    cfg = c.cfg(MODELS[key], [*p['model_override'], f'data.image_size={p["size"]}', f'train.batch_size={bs}',
                              'model.pretrained=false', 'train.validation_interval=1.0', 'train.max_minutes=0',
                              f'train.precision={prec}', f'train.gradient_checkpointing={str(ckpt).lower()}'])
    c.fresh()
    learn = None
    # quiet: the learner's console progress and the optimizer's warning (the env stage says whether apex is there)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter('ignore')
        try:
            learn = build_learner(cfg, dls=bench_train.fixed_dls(bs, p['size'], p['warmup'] + p['steps'], c.dev))
            if cl: learn.model.to(memory_format=torch.channels_last)
            timer = bench_train.StepTimer(p['warmup'])
            learn.add_cb(timer)
            with learn.no_bar(), learn.no_logging(): learn.fit(1)
        finally: _release(learn)
    t = sum(timer.times)
    row = dict(images_per_s=round(bs * len(timer.times) / t, 1) if t else None,
               s_per_step=round(t / len(timer.times), 4) if timer.times else None, peak_gib=c.peak(),
               precision=run_state(learn).precision)
    del learn
    return row


def stage_step(c):
    "Training-step throughput of the m and s configs over batch x precision x checkpointing x channels_last."
    share = c.left() - sum(RESERVE[s] for s in STAGES[STAGES.index('input'):] if s in c.stages) \
        - (60 * c.plan['fast_minutes'] if 'fast' in c.stages else 0) \
        - (c.plan['pm_first_s'] + 60 * c.plan['pm_resume_min'] if 'papermill' in c.stages else 0)
    share = max(share, c.plan['step_floor'])
    rows, variants = [], FULL if c.a.full else VARIANTS
    t_end = time.perf_counter() + share
    for mi, key in enumerate(c.models):
        # the dry run times every setting with m and only the first with s: the same code path, half the time
        todo = variants[:c.plan['s_variants']] if key == 's' and c.plan.get('s_variants') else variants
        now = time.perf_counter()
        end = now + (t_end - now) / (len(c.models) - mi)   # an equal part of what is left to each model
        oom, longest = set(), {}
        for prec, ckpt, cl in todo:
            for bs in c.plan['batches']:
                row = dict(model=key, config=MODELS[key], batch=bs, precision=prec, checkpointing=ckpt,
                           channels_last=cl, images_per_s=None, s_per_step=None, peak_gib=None, note='')
                rows.append(row)
                if (prec, ckpt, cl) in oom: row['note'] = 'skipped: a smaller batch ran out of memory'; continue
                guess = max([v * bs / b for b, v in longest.items()] or [0.0])
                if time.perf_counter() + max(guess, 2.0) > end:
                    row['note'] = 'skipped: time budget'; continue
                t = time.perf_counter()
                try: row.update(time_step(c, key, bs, prec, ckpt, cl))
                except torch.cuda.OutOfMemoryError as e:
                    oom.add((prec, ckpt, cl)); row['note'] = f'out of memory: {str(e).splitlines()[0][:120]}'
                longest[bs] = max(longest.get(bs, 0.0), time.perf_counter() - t)
                mem = f', peak {row["peak_gib"]} GiB' if row['peak_gib'] is not None else ''
                c.say(f'step {key} bs {bs} {prec} ckpt={ckpt} channels_last={cl}: '
                      + (f'{row["images_per_s"]} img/s{mem}' if row['images_per_s'] else row['note']))
    c.fresh()
    c.step_rows = rows
    return dict(rows=rows, seconds_share=round(share, 1))


def _best_step(c, bs):
    "The fastest timed m (else s) configuration at batch `bs`: the rate the input path has to keep up with."
    rows = [r for r in getattr(c, 'step_rows', []) if r['images_per_s'] and r['batch'] == bs]
    for key in ('m', 's'):
        mine = [r for r in rows if r['model'] == key]
        if mine: return max(mine, key=lambda r: r['images_per_s'])
    return None


def stage_input(c):
    "Images/s of `get_dls` with the GPU augmentation, from the PNG folder and from online synthesis."
    from dirtymnist.data import get_dls
    p, out = c.plan, {}
    bs = p['input_bs']
    src = f'{{filenames: {c.images}/*.png, labels: {c.images}/labels.csv}}'
    workers = 'data.num_workers=-1' if c.dev == 'cuda' else 'data.num_workers=0'
    sources = dict(png=[f'data.train=[{src}]', f'data.validation={src}'],
                   synth=['data.online=true', 'data.letters=builtin', 'data.valid_letters=builtin-valid',
                          'data.validation=null', f'data.num_train={bs * (p["input_batches"] + 2)}',
                          'data.num_valid=8'])
    for name, ov in sources.items():
        cfg = c.cfg(MODELS['m'], [*ov, workers, f'data.image_size={p["size"]}', f'train.batch_size={bs}'])
        dls = get_dls(cfg, device=c.dev, aug='gpu')
        it = iter(dls.train)
        next(it)   # workers start, first batch
        c.sync(); t, n = time.perf_counter(), 0
        for _, (x, _y) in zip(range(p['input_batches']), it): n += len(x)
        c.sync(); dt = time.perf_counter() - t
        del it, dls
        ips = round(n / dt, 1) if dt else None
        best = _best_step(c, bs)
        feeds = None if best is None or ips is None else ips >= best['images_per_s']
        out[name] = dict(images_per_s=ips, batch=bs, batches=p['input_batches'], workers=cfg.data.num_workers,
                         step_images_per_s=best and best['images_per_s'], feeds_step=feeds)
        c.say(f'input {name}: {ips} img/s at batch {bs}'
              + (f' against the step\'s {best["images_per_s"]}: {"feeds it" if feeds else "does NOT feed it"}'
                 if best else ''))
    return out


def stage_predict(c):
    "TTA prediction of the held-out PNGs with the m network (untrained) at the check's size: images/s."
    from dirtymnist.model import fast_bf16, save_model
    from dirtymnist.predict import predict
    from dirtymnist.recipes import untrained_model
    p = c.plan
    cfg = c.cfg(MODELS['m'], [*p['model_override'], f'data.image_size={p["size"]}'])
    prec = 'bf16' if fast_bf16(c.dev) else 'fp16' if c.dev == 'cuda' else 'fp32'
    path = save_model(untrained_model(cfg), c.tmp/'m_untrained', dict(image_size=p['size'], precision=prec))
    files = sorted(c.images.glob('*.png'))
    kw = dict(batch_size=p['predict_bs'], use_tta=True, device=c.dev, progress=False, return_probs=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        predict(path, files[:p['predict_bs']], **kw)   # warm-up: kernels, autotuning
        c.sync(); t = time.perf_counter()
        probs = predict(path, c.images, **kw)
        c.sync(); dt = time.perf_counter() - t
    assert len(probs) == len(files), (len(probs), len(files))
    ips = round(len(files) / dt, 1)
    c.say(f'predict: {len(files)} images with 4x TTA in {dt:.1f} s: {ips} img/s ({prec})')
    return dict(images=len(files), seconds=round(dt, 2), images_per_s=ips, batch=p['predict_bs'], precision=prec,
                model=MODELS['m'], tta=True)


def stage_fast(c):
    "The fast recipe trained on this device for its minutes by `train`, scored on the held-out images with TTA."
    from dirtymnist.evaluate import contest_accuracy
    from dirtymnist.predict import predict
    p = c.plan
    cfg = c.cfg('cpu_fast', [*p['fast_overrides'], f'train.max_minutes={p["fast_minutes"]}',
                             f'train.output_dir={c.tmp/"fast"}'])
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn, paths = train(cfg)
        dt = time.perf_counter() - t
        pred = predict(paths['model'], c.images, use_tta=True, device=c.dev, progress=False)
    answer = read_labels(c.images/'labels.csv')
    score = contest_accuracy(pred, answer)
    c.say(f'fast: {learn.train_iter} steps in {dt:.0f} s, validation {learn.best_model.best_acc:.4f}, '
          f'held-out {len(pred)} images with TTA {score:.4f}')
    return dict(minutes=p['fast_minutes'], seconds=round(dt, 1), steps=int(learn.train_iter),
                precision=run_state(learn).precision, val_accuracy=learn.best_model.best_acc,
                heldout_accuracy=round(score, 4), heldout_images=len(pred))


def _kernel(c):
    "A kernel spec of this interpreter in a temporary JUPYTER_PATH: papermill runs this environment, installs nothing."
    kd = c.tmp/'jupyter'/'kernels'/'dirtymnist-check'
    kd.mkdir(parents=True, exist_ok=True)
    (kd/'kernel.json').write_text(json.dumps(dict(argv=[sys.executable, '-m', 'ipykernel_launcher', '-f',
                                                        '{connection_file}'], display_name='dirtymnist check',
                                                  language='python')))
    env = dict(os.environ, JUPYTER_PATH=os.pathsep.join([str(c.tmp/'jupyter'), os.environ.get('JUPYTER_PATH', '')]),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    if c.dev == 'cpu': env['CUDA_VISIBLE_DEVICES'] = ''
    return 'dirtymnist-check', env


def _descendants(pid):
    "The process ids under `pid` (Linux /proc): the kernel papermill started, in a session of its own."
    out = []
    for f in Path(f'/proc/{pid}/task').glob('*/children'):
        try: kids = [int(k) for k in f.read_text().split()]
        except OSError: continue
        for k in kids: out += [k, *_descendants(k)]
    return out


def _kill(proc):
    "Kill papermill (its process group) and the kernel under it, as a crash or a lost machine would; wait until gone."
    kids = _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    for k in kids:
        try: os.kill(k, signal.SIGKILL)
        except ProcessLookupError: pass
    for _ in range(100):   # until the kernel is gone: no checkpoint is written after this
        if not any(Path(f'/proc/{k}').exists() and 'Z' not in _state(k) for k in kids): return
        time.sleep(0.1)


def _state(pid):
    try: return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError): return 'Z'


def _papermill(c, name, params, kill_after=None, out_dir=None, timeout=None):
    """Run nbs/train.ipynb with `params`. With `kill_after` (s): once that time has passed, kill it (papermill and its
    kernel) just after the next resume checkpoint is complete (its JSON, written after the tensors, is renewed).
    After `timeout` (s) it is killed in any case. Returns (exit status, 'killed' or 'timed out'; seconds; log path)."""
    kernel, env = _kernel(c)
    log = c.out/f'papermill_{name}.log'
    cmd = [sys.executable, '-m', 'papermill', '-k', kernel, str(ROOT/'nbs'/'train.ipynb'),
           str(c.out/f'train_{name}.ipynb'), '-y', json.dumps(params), '--cwd', str(ROOT/'nbs')]
    stamps = lambda: {f: f.stat().st_mtime_ns for f in out_dir.glob('*.resume.json')} if out_dir else {}
    t, seen = time.perf_counter(), None
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            while proc.poll() is None:
                waited = time.perf_counter() - t
                if timeout is not None and waited > timeout:
                    _kill(proc)
                    return 'timed out', waited, log
                if kill_after is None or waited < kill_after: time.sleep(0.5); continue
                now = stamps()
                if seen is None: seen = now
                # a kill between the tensors' and the JSON's rename leaves a pair that does not resume (see README)
                if (now and now != seen) or waited > kill_after + 120:
                    _kill(proc)
                    return 'killed', time.perf_counter() - t, log
                time.sleep(0.02)
        except BaseException:
            if proc.poll() is None: _kill(proc)
            raise
    return proc.returncode, time.perf_counter() - t, log


def _log_steps(out_dir):
    import csv
    logs = list(out_dir.glob('*.log.csv'))
    if not logs: return []
    with open(logs[0]) as f: return [int(r['step']) for r in csv.DictReader(f) if r.get('step')]


def stage_papermill(c):
    "train.ipynb killed after its minutes and resumed from its checkpoint: the resumed run goes on and ends."
    p = c.plan
    run = c.tmp/'papermill'
    run.mkdir()
    base = dict(config=p['pm_config'], output_dir=str(run), pretrained=False,
                overrides=[*p['pm_overrides'], 'data.online=true', 'data.letters=builtin',
                           'data.valid_letters=builtin-valid', 'data.validation=null',
                           f'train.deterministic={"true" if c.a.deterministic else "false"}'])
    first, t1, log1 = _papermill(c, 'first', dict(base, max_minutes=0), kill_after=p['pm_first_s'], out_dir=run)
    if first != 'killed':
        raise RuntimeError(f'the first run ended by itself (exit {first}) before it was interrupted; see {log1}')
    ckpts = sorted(run.glob('*.resume.json'))
    if not ckpts: raise RuntimeError(f'the first run wrote no resume checkpoint in {t1:.0f} s; see {log1}')
    ck = json.loads(ckpts[0].read_text())   # our own JSON metadata, no pickle
    steps1 = _log_steps(run)
    c.say(f'papermill: first run killed after {t1:.0f} s at logged step {max(steps1, default=0)}, '
          f'checkpoint at step {ck["step"]} (epoch {ck["epoch"]})')
    rc, t2, log2 = _papermill(c, 'resumed', dict(base, max_minutes=p['pm_resume_min'], resume_from=str(ckpts[0])),
                              timeout=60 * p['pm_resume_min'] + 180)
    if rc != 0: raise RuntimeError(f'the resumed run failed (exit {rc}); see {log2} and {c.out/"train_resumed.ipynb"}')
    steps2 = _log_steps(run)
    after = [s for s in steps2 if s > ck['step']]
    models = sorted(run.glob('*.safetensors'))
    models = [m for m in models if '.resume' not in m.name]
    ok = bool(after) and bool(models) and all(s in steps2 for s in steps1 if s <= ck['step'])
    c.say(f'papermill: resumed run ran {t2:.0f} s, logged steps {min(after, default=None)}..{max(after, default=None)}'
          f' after the checkpoint, model {"saved" if models else "MISSING"}: '
          f'{"continues" if ok else "DOES NOT continue"}')
    if not ok: raise RuntimeError(f'the resumed run did not continue: steps after {ck["step"]}: {after[:5]}, '
                                  f'models {[m.name for m in models]}; see {log2}')
    return dict(config=p['pm_config'], first_seconds=round(t1, 1), checkpoint_step=int(ck['step']),
                first_last_logged_step=max(steps1, default=None), resumed_seconds=round(t2, 1),
                resumed_first_step=min(after), resumed_last_step=max(after), continues=ok)


def markdown(res):
    "The report: the environment, the step table and one line per other stage."
    L = ['# GPU check' + (' (dry run on the CPU: the figures mean nothing)' if res['dry_run'] else ''), '']
    e = res['stages'].get('env', {}).get('result') or {}
    if e:
        L += [f'torch {e["torch"]}, CUDA {e["cuda"]}, cuDNN {e["cudnn"]}, '
              + (f'{e["gpu"]} ({e["gpu_memory_gib"]} GiB, sm {e["capability"]})' if e.get('gpu') else 'no GPU')
              + f', bf16 {e["bf16"]}, Python {e["python"]}, {e["cpus"]} CPUs; total {res["seconds"]:.0f} s', '']
    for name in STAGES:
        st = res['stages'].get(name)
        if st is None: continue
        if st['status'] != 'ok':
            L += [f'**{name}: {st["status"]}**: {st.get("error", "")}', '']; continue
        r = st['result']
        if name == 'step':
            L += ['| model | batch | precision | checkpointing | channels_last | img/s | s/step | peak GiB | note |',
                  '|---|---|---|---|---|---|---|---|---|']
            L += [f'| {x["config"]} | {x["batch"]} | {x["precision"]} | {x["checkpointing"]} | {x["channels_last"]} | '
                  f'{x["images_per_s"] or ""} | {x["s_per_step"] or ""} | {x["peak_gib"] or ""} | {x["note"]} |'
                  for x in r['rows']]
            L += ['']
        elif name == 'input':
            for k, v in r.items():
                L += [f'- input {k}: {v["images_per_s"]} img/s at batch {v["batch"]} ({v["workers"]} workers); step '
                      f'{v["step_images_per_s"]} img/s: feeds it: {v["feeds_step"]}']
        elif name == 'predict':
            L += [f'- predict: {r["images"]} images, 4x TTA, {r["model"]} ({r["precision"]}): '
                  f'{r["images_per_s"]} img/s']
        elif name == 'fast':
            L += [f'- fast recipe: {r["minutes"]} min ({r["steps"]} steps, {r["precision"]}): validation '
                  f'{r["val_accuracy"]:.4f}, held-out {r["heldout_images"]} images with TTA '
                  f'{r["heldout_accuracy"]:.4f}']
        elif name == 'papermill':
            L += [f'- papermill train.ipynb ({r["config"]}): killed after {r["first_seconds"]} s, resumed from step '
                  f'{r["checkpoint_step"]}, went on to step {r["resumed_last_step"]}: continues {r["continues"]}']
        elif name == 'images':
            L += [f'- images: {r["n"]} held-out PNGs in {r["seconds"]} s']
    return '\n'.join(L) + '\n'


def main(argv=None):
    a = parse(argv)
    if not a.dry_run and not torch.cuda.is_available():
        print('bench/gpu_check.py needs a CUDA GPU and none is visible (torch.cuda.is_available() is False); run it on '
              'a GPU machine, or `python bench/gpu_check.py --dry-run` to check it on the CPU.')
        sys.exit(2)
    c = Check(a)
    c.out.mkdir(parents=True, exist_ok=True)
    cudnn_flags(c.cfg(MODELS['m']).train.deterministic)   # as dirtymnist_train sets them, before anything runs
    if c.dev == 'cpu': torch.set_num_threads(min(2, os.cpu_count() or 1))
    if {'input', 'predict', 'fast'} & set(c.stages): c.stages.append('images')   # they read its images
    c.stages = [s for s in STAGES if s in c.stages]
    for name in c.stages:
        c.say(f'== {name}')
        t = time.perf_counter()
        try:
            if name != 'env' and c.left() <= 0: raise TimeoutError(f'time budget of {c.plan["budget"]:.0f} s spent')
            r = globals()[f'stage_{name}'](c)
            c.res['stages'][name] = dict(status='ok', seconds=round(time.perf_counter() - t, 1), result=r)
        except Exception as e:
            c.fresh()
            msg = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'[:300]
            c.say(f'{name} FAILED: {msg}')
            c.res['stages'][name] = dict(status='failed', seconds=round(time.perf_counter() - t, 1), error=msg,
                                         traceback=traceback.format_exc()[-3000:])
    c.res['seconds'] = round(c.elapsed(), 1)
    if a.keep_tmp: c.res['tmp'] = str(c.tmp)
    else: shutil.rmtree(c.tmp, ignore_errors=True)
    with atomic_write(c.out/'gpu_check.json') as f: json.dump(c.res, f, indent=1, default=str)
    report = markdown(c.res)
    with atomic_write(c.out/'gpu_check.md') as f: f.write(report)
    print('\n' + report)
    failed = [n for n, s in c.res['stages'].items() if s['status'] != 'ok']
    c.say(f'done in {c.elapsed():.0f} s: {len(c.stages) - len(failed)} stage(s) ok'
          + (f', FAILED: {", ".join(failed)}' if failed else '') + f'; report {c.out/"gpu_check.md"}')
    if failed and __name__ == '__main__': sys.exit(1)
    return c.res


if __name__ == '__main__':
    main()
