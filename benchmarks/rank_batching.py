"""Would `@serve.batch` help `/rank`? The model's time per request when k concurrent
requests (1 user x 100 candidates each) are scored in one forward, in process.

A ranking request holds one user's history for all its candidates, so DIEN runs its
interest extractor once and shares the states (`DIEN.forward`); requests batched
together hold k histories and lose that. This measures both effects at once.

    .venv/bin/python benchmarks/rank_batching.py [--model dien] [--repeats 100]
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import register_quick, scratch_settings
from load import DATA
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.features.encoding import encode_request
from recplat.features.online_read import OnlineFeatureReader
from recplat.features.repo import open_store
from recplat.models.predict import predict_logits
from recplat.registry.artifacts import load_artifact
from recplat.serving.ranker import artifact_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dien", choices=["dien", "din", "embedding_mlp"])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rank_batching.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # as a serving replica (0.5 CPU) has it
    with scratch_settings() as settings:
        ctx = PlatformContext(settings=settings)
        run_feature_stages(ctx, config=DATA)
        register_quick(ctx, args.model, None)
        version = ctx.metadata.resolve(model_name=args.model)
        artifact = load_artifact(Path(version.artifact_path))
        spec = artifact_inputs(artifact)
        reader = OnlineFeatureReader(
            store=open_store(settings.feature_repo), feature_service=artifact.feature_service
        )
        requests = []
        for _ in range(64):
            user, items = random.randrange(1, DATA.users), random.sample(range(1, DATA.items), 100)
            found = reader.read(user_id=user, item_ids=items)
            requests.append(
                encode_request(
                    user=found.user, items=found.items, user_id=user, item_ids=items,
                    spec=spec, vocab=artifact.config.vocab, max_len=artifact.max_len,
                )
            )  # fmt: skip
    rows: list[dict[str, Any]] = []
    for k in (1, 2, 4, 8, 16):
        samples = []
        for r in range(args.repeats + 5):
            chosen = [requests[(r * k + i) % len(requests)] for i in range(k)]
            started = time.perf_counter()
            batch = {name: np.concatenate([c[name] for c in chosen]) for name in chosen[0]}
            predict_logits(artifact.model, batch)
            if r >= 5:  # warm-up
                samples.append((time.perf_counter() - started) / k * 1e3)
        rows.append({"requests_per_forward": k, "ms_per_request": statistics.median(samples)})
        print(
            f"{args.model}: {k:2d} requests per forward | {rows[-1]['ms_per_request']:.2f} ms each"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
