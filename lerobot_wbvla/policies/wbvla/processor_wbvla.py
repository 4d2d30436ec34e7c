"""Pre- and post-processors of the `wbvla` policy, saved and reloaded with it as LeRobot does.

Pre: LeRobot's named default steps (`rename_observations_processor`, `to_batch_processor`, `device_processor`,
`normalizer_processor`: `lerobot-eval` and fine-tuning override these by name) plus `wbvla_task`, which checks that
every sample carries an instruction and cleans it. The task is tokenised and the images are preprocessed by the VLM's *own* processor inside the policy (`VLMBackbone.prepare`):
that processor interleaves image and text tokens in a family-specific way, which a text-only tokenizer step cannot
do. Images stay raw [0, 1] floats here (normalisation IDENTITY) because the LAM teacher reads them too. Actions are
normalised with the dataset's mean/std; the state is normalised inside the policy (see WbvlaConfig's
normalization_mapping: `lerobot-rollout` hands it a shorter state than the dataset's). Post: unnormalise the action,
move it to the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from lerobot.configs.types import PipelineFeatureType, PolicyFeature
from lerobot.processor import (
    ComplementaryDataProcessorStep,
    PolicyAction,
    PolicyProcessorPipeline,
    ProcessorStepRegistry,
)
from lerobot.processor.factory import make_default_policy_processor_steps, make_policy_processor_pipelines

from lerobot_wbvla.policies.wbvla.configuration_wbvla import WbvlaConfig


@ProcessorStepRegistry.register(name="wbvla_task")
@dataclass
class WbvlaTaskProcessorStep(ComplementaryDataProcessorStep):
    """Every sample needs a non-empty instruction string; surrounding whitespace and newlines are dropped."""

    def complementary_data(self, complementary_data: dict[str, Any]) -> dict[str, Any]:
        task = complementary_data.get("task")
        if task is None:
            raise ValueError(
                "wbvla needs a task instruction ('task'): record datasets with --dataset.single_task=..., and give "
                "lerobot-rollout/lerobot-eval a task (--task=... or an env that sets it)."
            )
        tasks = [task] if isinstance(task, str) else list(task)
        cleaned = [" ".join(str(t).split()) for t in tasks]
        if any(not t for t in cleaned):
            raise ValueError(
                "wbvla got an empty task instruction: every sample needs a non-empty 'task' string (lerobot-rollout "
                "passes '' when given none: add --task=... or --dataset.single_task=...)."
            )
        complementary_data["task"] = cleaned[0] if isinstance(task, str) else cleaned
        return complementary_data

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        return features


def make_wbvla_pre_post_processors(
    config: WbvlaConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
) -> tuple[
    PolicyProcessorPipeline[dict[str, Any], dict[str, Any]],
    PolicyProcessorPipeline[PolicyAction, PolicyAction],
]:
    s = make_default_policy_processor_steps(config, dataset_stats, normalizer_device=config.device)
    return make_policy_processor_pipelines(
        input_steps=[
            s.rename_observations,
            s.add_batch_dim,
            WbvlaTaskProcessorStep(),
            s.to_device,
            s.normalize,
        ],
        output_steps=[s.unnormalize, s.to_cpu],
    )
