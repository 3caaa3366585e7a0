#!/usr/bin/env python3
"""pesq_score.py REF.wav DEG.wav [wb|nb]: prints the ITU-T P.862 score (P.862.2 for wb).

Both files are read as mono; the degraded one is resampled to the reference's rate when
they differ. PESQ aligns the signals in time itself (P.862 §10.1), so codec delay needs no
compensation here. Rates: wb needs 16 kHz, nb 8 or 16 kHz.
"""
import sys

import numpy as np
import soundfile as sf
from pesq import pesq
from scipy.signal import resample_poly


def load(path):
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    return data[:, 0], rate


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    mode = sys.argv[3] if len(sys.argv) == 4 else "wb"
    ref, ref_rate = load(sys.argv[1])
    deg, deg_rate = load(sys.argv[2])
    target = 16000 if mode == "wb" else ref_rate
    if ref_rate != target:
        ref = resample_poly(ref, target, ref_rate)
    if deg_rate != target:
        deg = resample_poly(deg, target, deg_rate)
    n = min(len(ref), len(deg))
    print(f"{pesq(target, ref[:n], deg[:n], mode):.3f}")


if __name__ == "__main__":
    main()
