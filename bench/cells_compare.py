"""Image-level vs cells vs both (issue 28): the `cells` recipe, one timm backbone, one resolution, equal images or
equal minutes.

Usage: python bench/cells_compare.py BACKBONE --mode image|cells|both [--config cpu_cells] [--minutes M | --images N]
       [--every 1024] [--size 256] [--stride 16] [--n-valid 300] [--lr L] [--bs B] [--threads 2] [--label TEXT]
       [--out CSV] [-o KEY=VALUE ...]

Training letters: all but the last 3000 rows of ../shared/realdata/mnist_data/test-split-1.csv (as `tools/demo.py
--letters` splits them), validation images (10-14 letters, the contest's) from the last 3000; built-in letters when the
real ones are absent. The `cells` recipe (nbs/13a_recipe_cells.ipynb) on `--config` (default `cpu_cells`: resnet18
narrowed, reading the ink planes, 256 px), one validation every `--every` images. With `--minutes`, the run has that
wall-clock budget and the one-cycle schedule follows the clock (as `tools/demo.py` runs); with `--images`,
`train.epochs` = images / every and the schedule follows the steps (every mode gets the same schedule over the same
images). The image logits are calibrated on 128 images of the training letters before each validation.
Modes: `image` = the image BCE only, on a max-pooled head (`image_head=pool`, `cell_weight=0`): what the `standard`
recipe teaches, on the same data and backbone; `cells` = the cells' cross-entropy only (`image_weight=0`), image logits
from the config's `image_head` (`count` for cpu_cells); `both` = both losses (image logits from the best cell, `cells`,
the head the image BCE is defined on). `-o` adds any config override (e.g. `-o cells.orbit=true`).
Appends one row per validation to `--out` (default nbs/research/cells_curves.csv): backbone, mode (with `--label`),
size, stride, images, minutes (training, from the step log), images_s, accuracy (contest metric, held-out letters, no
TTA), tta (the same with 4x rot90 TTA, last row only), cpu, threads, precision. Prints where the model was saved
(for bench/read_slices.py).
"""
import argparse, sys, time, warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT/'bench'))
from timm_start import append_rows   # noqa: E402

MODES = dict(image=dict(cell_weight=0.0, image_weight=1.0, image_head='pool'),
             cells=dict(cell_weight=1.0, image_weight=0.0),
             both=dict(cell_weight=1.0, image_weight=1.0, image_head='cells'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('backbone'); ap.add_argument('--mode', default='both', choices=list(MODES))
    ap.add_argument('--config', default='cpu_cells')
    ap.add_argument('--minutes', type=float, default=0.0); ap.add_argument('--images', type=int, default=0)
    ap.add_argument('--every', type=int, default=1024)
    ap.add_argument('--size', type=int, default=None); ap.add_argument('--stride', type=int, default=None)
    ap.add_argument('--bs', type=int, default=None); ap.add_argument('--lr', type=float, default=None)
    ap.add_argument('--n-valid', type=int, default=300); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--precision', default='auto', help='train.precision (auto: bf16 where the CPU has it natively)')
    ap.add_argument('--label', default='', help='appended to the mode in the CSV')
    ap.add_argument('-o', dest='overrides', action='append', default=[], help='a config override KEY=VALUE')
    ap.add_argument('--out', default=str(ROOT/'nbs'/'research'/'cells_curves.csv'))
    a = ap.parse_args()
    if (a.minutes > 0) == (a.images > 0): ap.error('give one of --minutes and --images')
    torch.set_num_threads(a.threads)
    from dirtymnist.config import load_config
    from dirtymnist.letters import find_realdata, split_letters
    from dirtymnist.learner import train
    from dirtymnist.evaluate import contest_accuracy
    from dirtymnist.core import unwrap_model
    real = find_realdata()
    src = real/'mnist_data'/'test-split-1.csv' if real else None
    tmp = Path('/tmp/dm_cells_compare'); tmp.mkdir(exist_ok=True)
    if src is not None and src.is_file():
        tl, vl = tmp/'letters-train.csv', tmp/'letters-valid.csv'
        if not vl.is_file(): split_letters(src, tl, vl, last=3000)
        letters = [f'data.letters={tl}', f'data.valid_letters={vl}']
    else:
        print('real letters absent: built-in letters', file=sys.stderr); letters = []
    opt = {'data.image_size': a.size, 'cells.stride': a.stride, 'train.batch_size': a.bs, 'optim.lr': a.lr}
    budget = ([f'train.max_minutes={a.minutes}', 'train.epochs=100000'] if a.minutes else
              [f'train.epochs={a.images // a.every}', 'train.max_minutes=0'])
    cfg = load_config(a.config, ['recipe=cells'] + letters + [
        f'model.model_name={a.backbone}', f'data.num_train={a.every}', f'data.num_valid={a.n_valid}',
        f'train.precision={a.precision}', f'train.output_dir={tmp/"runs"}', 'data.num_workers=0'] + budget +
        [f'{k}={v}' for k, v in opt.items() if v is not None] +
        [f'cells.{k}={v}' for k, v in MODES[a.mode].items()] + a.overrides)
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn, paths = train(cfg)
    print(f'trained in {(time.time() - t0) / 60:.1f} min; saved: {paths}', flush=True)
    va = learn.step_logger.df.dropna(subset=['valid_acc'])
    # the last weights (not the best): 4x rot90 TTA on the validation images
    model = unwrap_model(learn.model).eval()
    xs, ys = zip(*[learn.dls.valid.dataset[i] for i in range(len(learn.dls.valid.dataset))])
    x, y = torch.stack(xs), torch.stack(ys)
    with torch.no_grad():
        p = torch.stack([torch.cat([model(torch.rot90(x[i:i + 50], k, (2, 3))).sigmoid() for i in range(0, len(x), 50)])
                         for k in range(4)]).mean(0)
    tta = float(contest_accuracy(p.numpy(), y.numpy(), 0.5))
    cpu = 'AVX512-BF16' if torch.backends.cpu.get_cpu_capability().startswith('AVX512') else 'AVX2'
    bs, size, stride = int(cfg.train.batch_size), int(cfg.data.image_size), int(cfg.cells.stride)
    rows = []
    for k, (_, r) in enumerate(va.iterrows()):
        seen = int(r['step']) * bs
        rows.append(dict(backbone=a.backbone, mode=a.mode + (f' ({a.label})' if a.label else ''), size=size,
                         stride=stride, images=seen, minutes=round(r['seconds'] / 60, 2),
                         images_s=round(seen / max(r['seconds'], 1e-9), 1), accuracy=round(float(r['valid_acc']), 4),
                         tta=round(tta, 4) if k == len(va) - 1 else '', cpu=cpu, threads=a.threads,
                         precision=learn.run_state.precision))
        print(rows[-1], flush=True)
    append_rows(a.out, rows)


if __name__ == '__main__':
    main()
