"""Model cards for the project's artifacts (LAM now; VLA, LMO and datasets later).

A card is the README.md of a Hub repo: YAML metadata the Hub indexes (library, tags, license, training
datasets, base model, metric names) and a Markdown body people read. `ArtifactCard` holds what every artifact
states; a small template per artifact kind (`register_card_template`) adds the kind's description and how to
load it. The body always ends with the artifact's config, so a pushed repo documents how it was built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, ModelCardData, constants

# Every card carries these tags, so the project's artifacts can be found together on the Hub.
PROJECT_TAGS = ("lerobot", "wholebodyvla")


@dataclass(frozen=True)
class CardTemplate:
    """The kind-specific part of a card body. `usage` is formatted with `repo_id`, `revision`, `repo_type`."""

    description: str
    usage: str
    tags: tuple[str, ...] = ()


_TEMPLATES: dict[str, CardTemplate] = {}


def register_card_template(kind: str, template: CardTemplate) -> None:
    """Add (or replace) the template for an artifact kind (for example "vla", "lmo")."""
    _TEMPLATES[kind] = template


def card_template(kind: str) -> CardTemplate:
    if kind not in _TEMPLATES:
        raise KeyError(f"No card template for artifact kind {kind!r}; known kinds: {sorted(_TEMPLATES)}")
    return _TEMPLATES[kind]


_GENERIC_USAGE = """```python
from lerobot_wbvla.hub import resolve_pretrained_dir

path = resolve_pretrained_dir("{repo_id}"{revision_arg}{repo_type_arg})  # local folder with the artifact's files
```"""

register_card_template(
    "generic",
    CardTemplate(
        description="An artifact of lerobot-wbvla, the open WholeBodyVLA implementation for LeRobot.",
        usage=_GENERIC_USAGE,
    ),
)

register_card_template(
    "lam",
    CardTemplate(
        description=(
            "A latent action model (LAM) of lerobot-wbvla, the open WholeBodyVLA implementation for LeRobot. "
            "It reads a pair of egocentric frames (o_t, o_t+k) and returns the quantized latent action z_t "
            "(a code from a learned codebook) that explains the change between them. WholeBodyVLA trains "
            "separate LAMs for manipulation and locomotion video and uses them, frozen, to give the VLA "
            "latent-action targets learned from action-free video."
        ),
        usage=_GENERIC_USAGE
        + "\n\nThe folder holds `config.json` and `model.safetensors`; load it with the LAM class of "
        "`lerobot_wbvla.lam` (`from_pretrained` accepts the repo id or that folder).",
        tags=("latent-action-model",),
    ),
)


@dataclass
class ArtifactCard:
    """What a pushed artifact's README says.

    `kind` picks the template ("lam", "generic", or one registered later). `config` is the artifact's config
    as a mapping (for example `dataclasses.asdict(cfg)`), rendered as JSON in the body.
    """

    kind: str = "generic"
    title: str | None = None
    summary: str = ""
    config: Mapping[str, Any] | None = None
    datasets: list[str] = field(default_factory=list)  # repo ids of the training data
    base_model: str | None = None
    license: str | None = "apache-2.0"
    tags: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    library_name: str = "lerobot"
    pipeline_tag: str | None = "robotics"
    sections: dict[str, str] = field(default_factory=dict)  # extra "## heading" -> Markdown text

    def all_tags(self) -> list[str]:
        """Project tags, then the kind's, then the artifact's own, without repeats."""
        tags = [*PROJECT_TAGS, *card_template(self.kind).tags, *self.tags]
        return list(dict.fromkeys(tags))

    def render(self, repo_id: str, *, repo_type: str = "model", revision: str | None = None) -> str:
        """The README.md text (metadata block + body) for `repo_id`."""
        return str(self.to_repo_card(repo_id, repo_type=repo_type, revision=revision))

    def to_repo_card(
        self, repo_id: str, *, repo_type: str = "model", revision: str | None = None
    ) -> ModelCard | DatasetCard:
        data: ModelCardData | DatasetCardData
        if repo_type == "dataset":
            data = DatasetCardData(license=self.license, tags=self.all_tags())
            card_cls: type[ModelCard] | type[DatasetCard] = DatasetCard
        else:
            data = ModelCardData(
                library_name=self.library_name,
                tags=self.all_tags(),
                license=self.license,
                datasets=list(self.datasets) or None,
                base_model=self.base_model,
                metrics=sorted(self.metrics) or None,
                pipeline_tag=self.pipeline_tag,
            )
            card_cls = ModelCard
        if self.metrics:
            data.wbvla_metrics = {k: float(v) for k, v in self.metrics.items()}
        return card_cls(f"---\n{data.to_yaml()}\n---\n\n{self._body(repo_id, repo_type, revision)}")

    def _body(self, repo_id: str, repo_type: str, revision: str | None) -> str:
        template = card_template(self.kind)
        usage = template.usage.format(
            repo_id=repo_id,
            revision=revision or "main",
            revision_arg=f', revision="{revision}"' if revision else "",
            repo_type_arg=f', repo_type="{repo_type}"' if repo_type != "model" else "",
        )
        parts = [f"# {self.title or repo_id.split('/')[-1]}", template.description]
        if self.summary:
            parts.append(self.summary)
        parts += ["## How to load", usage]
        if self.base_model:
            parts += ["## Base model", f"- [{self.base_model}]({constants.ENDPOINT}/{self.base_model})"]
        if self.datasets:
            links = [f"- [{d}]({constants.ENDPOINT}/datasets/{d})" for d in self.datasets]
            parts += ["## Training data", "\n".join(links)]
        if self.metrics:
            rows = [f"| {name} | {float(value):.6g} |" for name, value in sorted(self.metrics.items())]
            parts += ["## Metrics", "| metric | value |\n|---|---|\n" + "\n".join(rows)]
        for heading, text in self.sections.items():
            parts += [f"## {heading}", text]
        if self.config is not None:
            rendered = json.dumps(self.config, indent=2, sort_keys=True, default=str)
            parts += ["## Configuration", f"```json\n{rendered}\n```"]
        return "\n\n".join(parts) + "\n"
