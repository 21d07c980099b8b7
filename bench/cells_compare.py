"""Image-level vs cells vs both (issue 28): the `cells` recipe, one timm backbone, one resolution, equal images.

Usage: python bench/cells_compare.py BACKBONE --mode image|cells|both [--size 128] [--stride 16] [--images 4800]
       [--every 800] [--n-valid 300] [--lr 2e-3] [--threads 2] [--out CSV]

Training letters: all but the last 3000 rows of ../shared/realdata/mnist_data/test-split-1.csv (as `tools/demo.py
--letters` splits them), validation images (10-14 letters, the contest's) from the last 3000; built-in letters when the
real ones are absent. The `cells` recipe (nbs/13a_recipe_cells.ipynb) on the `cpu_small` config, `train.epochs` =
images / every, `data.num_train` = every, a one-cycle schedule over the steps (so every mode gets the same schedule over
the same number of images), the presence calibrated on 128 images of the training letters before each validation.
Modes: `image` = the image BCE only, on a max-pooled head (`image_head=pool`, `cell_weight=0`): what the `standard`
recipe teaches, on the same data and backbone; `cells` = the cells' cross-entropy only (`image_weight=0`), image logits
from the best cell; `both` = both losses. Appends one row per validation to `--out` (default
nbs/research/cells_curves.csv): backbone, mode, size, stride, images, minutes (training, from the step log), images_s,
accuracy (contest metric, held-out letters, no TTA), tta (the same with 4x rot90 TTA, last row only), cpu, threads.
"""
import argparse, sys, time, warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT/'bench'))
from timm_start import append_rows   # noqa: E402


def cells_config(overrides, **cells):
    "The `cpu_small` config with recipe `cells` and its `cells` block set."
    from dirtymnist.config import load_config
    return load_config('cpu_small', ['recipe=cells'] + [f'cells.{k}={v}' for k, v in cells.items()] + overrides)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('backbone'); ap.add_argument('--mode', default='both', choices=['image', 'cells', 'both'])
    ap.add_argument('--size', type=int, default=128); ap.add_argument('--stride', type=int, default=16)
    ap.add_argument('--images', type=int, default=4800); ap.add_argument('--every', type=int, default=800)
    ap.add_argument('--bs', type=int, default=16); ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--n-valid', type=int, default=300); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--precision', default='fp32', help='train.precision (auto: bf16 where the CPU has it natively)')
    ap.add_argument('--out', default=str(ROOT/'nbs'/'research'/'cells_curves.csv'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from dirtymnist.letters import find_realdata, split_letters
    from dirtymnist.learner import train
    from dirtymnist.evaluate import contest_accuracy
    from dirtymnist.core import unwrap_model as _unwrap
    real = find_realdata()
    src = real/'mnist_data'/'test-split-1.csv' if real else None
    tmp = Path('/tmp/dm_cells_compare'); tmp.mkdir(exist_ok=True)
    if src is not None and src.is_file():
        tl, vl = tmp/'letters-train.csv', tmp/'letters-valid.csv'
        if not vl.is_file(): split_letters(src, tl, vl, last=3000)
        letters = [f'data.letters={tl}', f'data.valid_letters={vl}']
    else:
        print('real letters absent: built-in letters', file=sys.stderr); letters = []
    mode = dict(image=dict(cell_weight=0.0, image_weight=1.0, image_head='pool'),
                cells=dict(cell_weight=1.0, image_weight=0.0, image_head='cells'),
                both=dict(cell_weight=1.0, image_weight=1.0, image_head='cells'))[a.mode]
    cfg = cells_config(letters + [
        f'model.model_name={a.backbone}', 'model.drop_rate=0', 'model.drop_path_rate=0', f'data.image_size={a.size}',
        f'data.num_train={a.every}', f'data.num_valid={a.n_valid}', f'train.batch_size={a.bs}',
        f'train.epochs={a.images // a.every}', 'train.max_minutes=0', f'optim.lr={a.lr}',
        f'train.precision={a.precision}',
        f'train.output_dir={tmp/"runs"}', 'train.log_every_n_steps=10', 'data.num_workers=0'],
        stride=a.stride, calib_images=128, **mode)
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn, paths = train(cfg)
    print(f'trained in {(time.time() - t0) / 60:.1f} min', flush=True)
    log = learn.step_logger.df
    va = log.dropna(subset=['valid_acc'])
    # the last weights (not the best): 4x rot90 TTA on the validation images
    model = _unwrap(learn.model).eval()
    xs, ys = zip(*[learn.dls.valid.dataset[i] for i in range(len(learn.dls.valid.dataset))])
    x, y = torch.stack(xs), torch.stack(ys)
    with torch.no_grad():
        p = torch.stack([torch.cat([model(torch.rot90(x[i:i + 50], k, (2, 3))).sigmoid() for i in range(0, len(x), 50)])
                         for k in range(4)]).mean(0)
    tta = float(contest_accuracy(p.numpy(), y.numpy(), 0.5))
    cpu = 'AVX512-BF16' if torch.backends.cpu.get_cpu_capability().startswith('AVX512') else 'AVX2'
    per = a.every
    rows = []
    for k, (_, r) in enumerate(va.iterrows()):
        seen = min(int(r['step']) * a.bs, (k + 1) * per)
        rows.append(dict(backbone=a.backbone, mode=a.mode, size=a.size, stride=a.stride, images=seen,
                         minutes=round(r['seconds'] / 60, 2), images_s=round(seen / max(r['seconds'], 1e-9), 1),
                         accuracy=round(float(r['valid_acc']), 4), tta=round(tta, 4) if k == len(va) - 1 else '',
                         cpu=cpu, threads=a.threads, precision=learn.run_state.precision))
        print(rows[-1], flush=True)
    append_rows(a.out, rows)


if __name__ == '__main__':
    main()
