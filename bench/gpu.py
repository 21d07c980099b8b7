"""The winning solution's m run on a GPU: training img/s and peak memory of `dirtymnist.learner.build_learner`.

Usage: python bench/gpu.py [--precision bf16,fp16] [--steps 10] [--bs 512] [--size 384] [--budget 420]
       python bench/gpu.py --smoke      # the same code on the CPU with a toy model, to check the script itself

Config `tf_efficientnetv2_m_in21k` (untrained weights: no download), 384 px, batch 512, gradient checkpointing, one
run per precision (bf16 without a scaler, fp16 with one). Input is one fixed batch already on the GPU, so the figure
is the training step alone (forward, loss, backward, optimizer step, the training callbacks), not the data pipeline
(`bench/data.py`). Two warm-up steps (cuDNN autotuning, allocator), then `--steps` timed steps; a precision whose
timed steps would pass `--budget` seconds stops early and says so, so the whole script ends within 8 minutes.
Peak memory is `torch.cuda.max_memory_allocated` over the timed steps.

Without CUDA it prints why and exits with status 2 (this machine class has no GPU).
"""
import argparse, gc, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--precision', default='bf16,fp16', help='comma-separated: bf16, fp16, fp32')
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--bs', type=int, default=512)
    p.add_argument('--size', type=int, default=384)
    p.add_argument('--config', default='tf_efficientnetv2_m_in21k')
    p.add_argument('--no-checkpointing', action='store_true')
    p.add_argument('--budget', type=float, default=420.0, help='seconds for all runs together (the script must end within 8 minutes)')
    p.add_argument('--smoke', action='store_true', help='CPU, test_efficientnet, 32 px, batch 4: checks the script runs')
    a = p.parse_args()
    if a.smoke:
        device, model, a.bs, a.size, a.steps, a.warmup, precisions = 'cpu', ['model.model_name=test_efficientnet'], 4, 32, 2, 1, ['bf16', 'fp32']
    else:
        if not torch.cuda.is_available():
            print('bench/gpu.py needs a CUDA GPU and none is visible (torch.cuda.is_available() is False); '
                  'run it on a GPU machine, or `python bench/gpu.py --smoke` to check the script on the CPU.')
            sys.exit(2)
        device, model, precisions = 'cuda', [], [s.strip() for s in a.precision.split(',') if s.strip()]
        torch.backends.cudnn.benchmark = True
    from train import bench   # bench/train.py
    t_start = time.time()
    if device == 'cuda':
        print(f'{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}')
    print(f'{a.config}: {a.size} px, batch {a.bs}, gradient checkpointing {not a.no_checkpointing}, {a.warmup} warm-up + {a.steps} timed steps')
    print(f'{"precision":<10}{"img/s":>9}{"s/step":>9}{"peak GiB":>10}{"steps":>7}')
    for prec in precisions:
        left = a.budget - (time.time() - t_start)
        if left < 30:
            print(f'{prec:<10} skipped: the time budget is spent'); continue
        gc.collect()
        if device == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        steps = a.steps
        ov = model + [f'train.precision={prec}', f'train.gradient_checkpointing={"false" if a.no_checkpointing else "true"}',
                      f'train.max_minutes={max(left - 5, 0.1) / 60:.4f}']
        try:
            ips, times, learn = bench(a.config, ov, a.bs, a.size, steps, device=device, warmup=a.warmup)
        except torch.cuda.OutOfMemoryError as e:
            print(f'{prec:<10} out of memory: {str(e).splitlines()[0]}'); continue
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == 'cuda' else float('nan')
        note = ' (stopped by the time budget)' if getattr(learn, 'stopped_early', False) else ''
        print(f'{prec:<10}{ips:>9.1f}{sum(times) / max(len(times), 1):>9.3f}{peak:>10.2f}{len(times):>7}{note}', flush=True)
        del learn
    print(f'total {time.time() - t_start:.0f} s')


if __name__ == '__main__': main()
