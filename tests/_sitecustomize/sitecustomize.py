"""Applied by Python at start-up in child processes the tests launch (see `subprocess_env` in tests/conftest.py).

Only with WBVLA_TEST_HUB_PATCH=1: makes huggingface_hub < 2 validate cards at HF_ENDPOINT (the local Hub)
instead of huggingface.co, as the tests' own process does. Nothing happens otherwise.
"""

import os

if os.environ.get("WBVLA_TEST_HUB_PATCH") == "1":
    from lerobot_wbvla.hub.compat import patch_repocard_validate

    patch_repocard_validate()
