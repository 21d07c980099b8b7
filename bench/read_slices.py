"""How well models read the letters, slice by slice of the error record (issue 20), and the rotation-pair pooling test.

Usage: python bench/read_slices.py MODEL [MODEL ...] [--letters CSV] [--n 600] [--out DIR] [--pairs]

Makes (once, into --out) `--n` images of held-out letters with their per-letter record:
`dirtymnist.letters.split_letters` holds out the last 3,000 rows of the letter CSV (default: the real contest letters
in ../shared/realdata, as `tools/demo.py --letters` does), `dirtymnist.synth.synthesize(..., placements=...)` pastes
them (seed 7). Each model predicts them as `dirtymnist_predict` does (4x rot90 TTA), and
`dirtymnist.analysis.analyse` joins the prediction to the record. One Markdown row per model:

  accuracy      the contest metric on the images (probabilities cut at 0.5)
  recall        of all pasted letters; `clean`: not dimmed, <= 10% of the ink covered, scale > 1.5;
                `small`: scale < 1.25
  mean AUC      each letter's ROC AUC from the probabilities, averaged: threshold-free, so a calibration that trades
                recall for false positives does not move it (sklearn's `roc_auc_score`)
  pairs, i l t  the AUC of the letters that a rotation turns into each other, and of the thin letters, with the
                false-positive rate of i, l, t at the model's own threshold

`--pairs` adds, for the first model, the post-hoc test of pooling each rotation pair's cell mass before the presence
calibration (weights 0 to 1; 0 is the model as it is), with the global and the per-letter-and-crowd calibration refitted
on 1,024 images of the training letters (`dirtymnist.recipe_fast.fit_calibration`, `fit_letter_calibration`).
Skips with a message when the real letters are absent and no --letters is given.
"""
import argparse, sys, tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dirtymnist.analysis import analyse
from dirtymnist.evaluate import correct_labels
from dirtymnist.labels import VOCAB, read_labels, write_labels
from dirtymnist.letters import find_realdata, split_letters
from dirtymnist.model import load_model
from dirtymnist.nets import calibrated
from dirtymnist.predict import predict
from dirtymnist.synth import synthesize

PAIRS = ('bq', 'dp', 'nu', 'mw')   # letters that a half turn makes into each other


def make_set(letters, out: Path, n: int):
    "The held-out images, their labels and their record in `out` (made once)."
    out.mkdir(parents=True, exist_ok=True)
    tr, va = out/'train_letters.csv', out/'valid_letters.csv'
    if not va.exists(): split_letters(letters, tr, va, last=3000)
    if not (out/'images.record.csv').exists():
        synthesize(str(va), out/'images', out/'images.csv', num_images=n, seed=7, placements=out/'images.record.csv',
                   progress=False)
    return tr, out/'images', read_labels(out/'images.csv'), pd.read_csv(out/'images.record.csv')


def auc(y, p):
    from sklearn.metrics import roc_auc_score
    return np.array([roc_auc_score(y[:, k], p[:, k]) for k in range(y.shape[1])])


def row(name, p, answer, record):
    "One Markdown row of the slices of `p` (probabilities, a DataFrame) against `answer` and the `record`."
    r, ix = analyse(p, answer, record), {c: i for i, c in enumerate(VOCAB)}
    j = r['letters']
    clean = j[(j.covered <= 0.10) & (j.dimmed == 0) & (j.scale > 1.5)]
    pr, a = p[VOCAB].to_numpy(), answer.loc[p.index][VOCAB].to_numpy() > 0
    fpr, au = ((pr > 0.5) & ~a).sum(0) / (~a).sum(0), auc(a, pr)
    A = lambda s: ' '.join(f'{au[ix[c]]:.3f}' for c in s)
    return (f'| {name} | {r["accuracy"]:.4f} | {j.hit.mean():.3f} | {clean.hit.mean():.3f} | '
            f'{j[j.scale < 1.25].hit.mean():.3f} | {au.mean():.4f} | {A("".join(PAIRS))} | {A("ilt")} | '
            f'{"/".join(f"{fpr[ix[c]]:.3f}" for c in "ilt")} |')


def pair_pooling(path, train_letters, imagedir, answer):
    "Rows: accuracy on the held-out images when each pair's mass is pooled with weight w, for both calibrations."
    import cv2
    from dirtymnist.recipe_fast import SynthTensors, fit_calibration, fit_letter_calibration, presence_features
    model = load_model(path)[0].eval()
    mass = lambda x: presence_features(model, x).double().exp()   # each letter's expected number of cells (+ 1e-4)
    ds = SynthTensors(str(train_letters), 1024, seed=123456, size=256)
    xc, yc = [torch.stack(v) for v in zip(*[ds[i] for i in range(len(ds))])]
    xv = torch.from_numpy(np.stack([cv2.imread(str(imagedir/f'{int(i):05d}.png'), cv2.IMREAD_GRAYSCALE)
                                    for i in answer.index]).astype(np.float32) / 127.5 - 1)[:, None]
    sc, sv, yc, yv = mass(xc), mass(xv), yc.double(), torch.tensor(answer.values).double()
    ix, rows = {c: i for i, c in enumerate(VOCAB)}, []
    for w in (0.0, 0.25, 0.5, 0.75, 1.0):
        q = torch.eye(26, dtype=torch.float64)
        for a, b in PAIRS: q[ix[a], ix[b]] = q[ix[b], ix[a]] = w
        fc, fv = torch.log(sc @ q.T), torch.log(sv @ q.T)
        s, t = fit_calibration(fc, yc)
        zl = calibrated(fv, fit_letter_calibration(fc, yc, count=True).double())
        per = correct_labels(s * (fv - t), yv, 0).double().mean(0)
        rows.append(f'| {w:g} | {correct_labels(s * (fv - t), yv, 0).double().mean():.4f} | '
                    f'{correct_labels(zl, yv, 0).double().mean():.4f} | '
                    + ' '.join(f'{per[ix[a]]:.3f}/{per[ix[b]]:.3f}' for a, b in PAIRS) + ' |')
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('models', nargs='+', help='saved models (.safetensors)')
    ap.add_argument('--letters', default=None, help='letter CSV (default: the real contest letters, if present)')
    ap.add_argument('--n', type=int, default=600, help='held-out images to make and score')
    ap.add_argument('--out', default=None, help='folder for the held-out images (made once; default: a temp folder)')
    ap.add_argument('--pairs', action='store_true', help='also the rotation-pair pooling test on the first model')
    args = ap.parse_args(argv)
    letters = args.letters
    if letters is None:
        real = find_realdata()
        if real is None: print('skipped: no --letters and no real letters in ../shared/realdata'); return
        letters = real/'mnist_data'/'test-split-1.csv'
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix='read_slices-'))
    torch.set_num_threads(2)
    train_letters, imagedir, answer, record = make_set(letters, out, args.n)
    print(f'{len(answer)} images of held-out letters in {out}\n')
    print('| model | accuracy | recall | recall clean | recall small | mean AUC | AUC ' + ' '.join(''.join(PAIRS)) +
          ' | AUC i l t | false positives i/l/t |\n' + '|---' * 9 + '|')
    for m in args.models:
        p = predict(m, imagedir, use_tta=True, return_probs=True, progress=False)
        write_labels(p, out/f'{Path(m).stem}.probs.csv')
        print(row(Path(m).stem, p, answer, record), flush=True)
    if args.pairs:
        print(f'\nrotation pairs pooled before the calibration ({Path(args.models[0]).stem}):\n\n'
              '| weight | global | letter_count | accuracy of ' + ' '.join(a + '/' + b for a, b in PAIRS)
              + ' (global) |\n'
              '|---|---|---|---|')
        print('\n'.join(pair_pooling(args.models[0], train_letters, imagedir, answer)))


if __name__ == '__main__':
    main()
