"""What the egocentric video generators share: one implementation of the dataset writing around the renderers.

Both `wbvla-gen-egovideo` (MuJoCo, `datasets/egovideo/`) and `wbvla-gen-raycast-egovideo` (numpy ray caster,
`datasets/raycast_egovideo/`) write the same contract (docs/CONTRACTS.md "Egocentric video"); the code that is
about that contract, not about a domain's look or motion, lives here once:
- `staging`: the hidden staging folder, its atomic swap into place and the removal of stale ones;
- `writer`: clip jobs, the worker pool, labels records, generator.json, the contact sheet, `write_dataset`;
- `config`: the checks of the config fields both generators have (`validate_common`, `check_range(s)`);
- `plan`: the labelled phase plan of a clip (`Phase`, `frame_labels`, `merge_stand_stills`, `PlannedClip`).
Each domain keeps its own renderer, scene, camera, textures, motion profiles and speed ranges.

The contract modules this package builds on (labels, split, mp4, preview) live in `datasets/egovideo/`, whose
`__init__` imports `egovideo.generate`, which imports this package. So this package imports `egovideo` first:
then either import order works (importing `egovideo_common.writer` first would otherwise meet a half-initialised
`writer` inside `egovideo.generate`).
"""

import lerobot_wbvla.datasets.egovideo  # noqa: F401  (import order, see above)
