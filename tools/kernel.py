"""Register this interpreter as the Jupyter kernel `dirtymnist` ("Python (dirtymnist)"), as `make install` does.

    python tools/kernel.py            # the user's kernel `dirtymnist`
    python tools/kernel.py --name x   # another name

It is `python -m ipykernel install --user --name dirtymnist --display-name "Python (dirtymnist)"` plus one kernel
argument, `--IPKernelApp.log_level=ERROR`: papermill, run by hand (`papermill -k dirtymnist nbs/train.ipynb out.ipynb`),
starts its kernels over TCP, and ipykernel then logs a warning about unencrypted TCP on every run, whatever the
notebook does. papermill has no option for the transport and reads no Jupyter config, so the kernel's own log level is
where it can be silenced; the kernel's errors still show, and warnings from the notebook's code are not affected
(they are Python warnings, shown in the notebook). The transport itself stays TCP on localhost, as in any Jupyter.
"""
import argparse, json, os, sys
from pathlib import Path

QUIET = '--IPKernelApp.log_level=ERROR'


def install(name='dirtymnist', display_name='Python (dirtymnist)') -> Path:
    "Install the kernelspec for this interpreter in the user's Jupyter folder; returns its kernel.json."
    from ipykernel.kernelspec import install as ipk_install
    d = Path(ipk_install(user=True, kernel_name=name, display_name=display_name))
    spec = d/'kernel.json'
    js = json.loads(spec.read_text())
    if QUIET not in js['argv']: js['argv'].append(QUIET)
    tmp = spec.with_suffix('.json.tmp')
    tmp.write_text(json.dumps(js, indent=1))
    os.replace(tmp, spec)
    return spec


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--name', default='dirtymnist')
    ap.add_argument('--display-name', default='Python (dirtymnist)')
    a = ap.parse_args()
    print(f'kernel {a.name!r} ({sys.executable}): {install(a.name, a.display_name)}')
