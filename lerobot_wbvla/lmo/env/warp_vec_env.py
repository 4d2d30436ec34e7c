"""WarpLMOVecEnv: the LMO's training env on MuJoCo Warp, N worlds batched on one device (CPU or GPU).

The same X2 model as the CPU env (built by `X2LMOVecEnv._build_twin`: the twin's generated MJCF, gains, PD
actuators, settled standing state), put on the device once with `mujoco_warp.put_model` / `put_data(nworld=N)`.
The control loop, the bookkeeping (clips, pushes, lags, the domain randomization draws, all numpy on the host) and
every MDP term (lmo/mdp/: actions, observations, rewards, terminations) are the CPU env's own: this class only
replaces the physics hooks and keeps the state the terms read as float32 torch tensors on the device (zero-copy
views of the warp arrays), so nothing of the MDP is written twice (lmo/mdp/xp.py).

Domain randomization: each reset draws the env's values with the CPU env's own event functions
(`X2LMOVecEnv._randomize`, lmo/mdp/events.py) into one host scratch MjModel and copies the changed fields into
that world's slice of the batched warp model (`BATCHED_FIELDS`: friction; payload and CoM through the body masses,
inertias and the constants mj_setConst derives from them; motor strength through the leg actuators' gains, biases
and force ranges; the gravity feed-forward lives in actuator_biasprm too).

Terrain: one heightfield per world, as on the CPU env. mujoco_warp's `hfield_data` has no world dimension, but
`geom_dataid` does (its per-world meshes use it; the heightfield collision reads `geom_dataid[world, geom]`), so the
device model holds a pool of `num_envs` heightfields, each the CPU env's `terrain` field (same size and grid),
and world i's `terrain` geom points at heightfield i (`_terrain_pool`). A reset draws world i's field with the CPU
env's `events.randomize_terrain` (through `_randomize`: same rng draws, the curriculum's scaled roughness) into the
scratch model and copies it into slot i, so `roughness[i]` is the truth and difficulty 0 is flat ground. Chosen
over the tiled-terrain layout of GPU frameworks (one big heightfield, each robot spawned on its tile): every robot
stays at the origin on its own field, so no root offset exists that could leak into observations, rewards,
commands or terminations, no tile border is near a spawn (the field's flat start pad is the CPU env's), and a
robot walking far sees what it would on the CPU env (the field's edge at 10 m), not a neighbour's tile. The cost is
memory, num_envs x 201 x 201 float32 (158 KiB per world; 4096 worlds: 662 MB of device memory, none on the host:
the pool replaces the device model's heightfield arrays after put_model), and host time at a reset (drawing a
field: ~0.8 ms of CPU per world, as on the CPU env); the collision cost is that of one shared field (only the cells
under a geom are visited). Nothing but a reset (or `load_state_from`) writes the pool.

On a GPU, warp runs on torch's current CUDA stream, so torch writes (controls, pushes) and warp kernels stay in
order without host synchronisation; the host waits once per control step (the done flags drive the resets).
"""

from __future__ import annotations

import copy

import mujoco
import numpy as np
import torch

from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig, WarpConfig
from lerobot_wbvla.lmo.env.x2_vec_env import STATE, X2LMOVecEnv
from lerobot_wbvla.lmo.mdp.actions import delayed_slots
from lerobot_wbvla.lmo.mdp.xp import Array
from lerobot_wbvla.robots.agibot_x2 import params as P

# Model fields with one slice per world (mujoco_warp `put_model(batch_sizes=...)`): what `X2LMOVecEnv._randomize`
# and the gravity feed-forward write into a model.
BATCHED_FIELDS: tuple[str, ...] = (
    "geom_friction",
    "body_mass",
    "body_ipos",
    "body_iquat",
    "body_inertia",
    "body_subtreemass",
    "body_invweight0",
    "dof_invweight0",
    "actuator_acc0",
    "actuator_gainprm",
    "actuator_biasprm",
    "actuator_forcerange",
)
# Physics state copied per world on a reset or a load (besides time): the MjData fields mj_setState restores, plus
# the solver's warm start, controls and applied forces.
STATE_FIELDS: tuple[str, ...] = ("qpos", "qvel", "act", "ctrl", "qacc_warmstart", "xfrc_applied")


def _import_warp():
    try:
        import mujoco_warp as mjw
        import warp as wp
    except ImportError as err:  # pragma: no cover - the dependency is declared; a broken install says so
        raise ImportError(
            f"the warp backend needs mujoco-warp ({err}); install it with `pip install mujoco-warp` "
            "(the version matching the installed mujoco) or train with --backend=cpu"
        ) from err
    return wp, mjw


def resolve_warp_device(name: str) -> str:
    """'auto' -> 'cuda:0' when torch sees a GPU, else 'cpu'; anything else as given ('cpu', 'cuda', 'cuda:1')."""
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"warp.device={name!r} but torch sees no GPU here: use --warp.device=cpu (or auto)")
    return name


class WarpLMOVecEnv(X2LMOVecEnv):
    """RSL-RL VecEnv of N X2 worlds on MuJoCo Warp; the CPU env's MDP on torch tensors (see the module doc)."""

    def __init__(
        self,
        cfg: LMOEnvConfig,
        clips: dict,
        lam: str | None = None,
        lam_revision: str | None = None,
        warp: WarpConfig | None = None,
    ):
        self.warp_cfg = warp or WarpConfig()
        self.wp, self.mjw = _import_warp()
        self.wp_device = resolve_warp_device(self.warp_cfg.device)
        super().__init__(cfg, clips, lam=lam, lam_revision=lam_revision)

    # ------------------------------------------------------------------ backend: MuJoCo Warp, torch float32
    def _torch_device(self) -> torch.device:
        return torch.device(self.wp_device)

    def _array_like(self) -> Array:
        return torch.zeros(0, dtype=torch.float32, device=self.device)

    def _actions_in(self, actions: torch.Tensor) -> Array:
        return actions.detach().to(self.device, torch.float32)

    def _dev(self, x: np.ndarray) -> Array:
        return torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)

    def _ix(self, ids: np.ndarray) -> Array:
        return torch.as_tensor(np.asarray(ids), dtype=torch.long, device=self.device)

    def _host(self, x: Array) -> np.ndarray:
        return x.cpu().numpy()

    def _torch(self, x: Array) -> torch.Tensor:
        return x

    def _scope(self):
        """Warp on this env's device, on torch's current stream there (ordering with torch's writes)."""
        wp = self.wp
        if self.device.type == "cuda":
            return wp.ScopedStream(wp.stream_from_torch(torch.cuda.current_stream(self.device)))
        return wp.ScopedDevice(self.wp_device)

    def _build_physics(self, cfg: LMOEnvConfig) -> None:
        wp, mjw = self.wp, self.mjw
        n = self.num_envs
        # The host model each reset's randomization is drawn into (a copy: the twin's own model stays nominal).
        self.scratch = m = copy.deepcopy(self.twin.model)
        self.scratch_data = mujoco.MjData(m)
        self._nominal_fields = {f: getattr(m, f).copy() for f in BATCHED_FIELDS}
        mujoco.mj_setState(m, self.scratch_data, self.init_state, STATE)
        self.scratch_data.ctrl[:] = self.init_ctrl
        mujoco.mj_forward(m, self.scratch_data)
        batch = {f: n for f in BATCHED_FIELDS}
        if cfg.terrain:
            batch["geom_dataid"] = n  # world i's terrain geom -> heightfield i (_terrain_pool)
        with wp.ScopedDevice(self.wp_device):
            self.mw = mjw.put_model(m, batch_sizes=batch)
            self._hfield_t = self._terrain_pool(m) if cfg.terrain else None
            self.dw = mjw.put_data(
                m, self.scratch_data, nworld=n, njmax=self.warp_cfg.njmax, nconmax=self.warp_cfg.nconmax
            )
        self._t = {name: wp.to_torch(getattr(self.dw, name)) for name in STATE_FIELDS}
        for name in ("qfrc_bias", "sensordata", "subtree_com", "geom_xpos", "time", "nacon"):
            self._t[name] = wp.to_torch(getattr(self.dw, name))
        self._t["contact_geom"] = wp.to_torch(self.dw.contact.geom)
        self._t["contact_world"] = wp.to_torch(self.dw.contact.worldid)
        self._model_t = {f: wp.to_torch(getattr(self.mw, f)) for f in BATCHED_FIELDS}
        dev = self.device
        ngeom = m.ngeom
        slot = np.full(ngeom + 1, -1)  # index ngeom: the -1 of flex contacts
        for gid, s in self.pad_slot.items():
            slot[gid] = s
        robot = np.zeros(ngeom + 1, dtype=bool)
        robot[list(self.robot_geoms)] = True
        ground = np.zeros(ngeom + 1, dtype=bool)
        ground[list(self.ground_geoms)] = True
        self._pad_slot_t = torch.as_tensor(slot, device=dev)
        self._robot_t = torch.as_tensor(robot, device=dev)
        self._ground_t = torch.as_tensor(ground, device=dev)
        self._rows_t = torch.arange(n, device=dev)
        self._idx = {
            name: torch.as_tensor(np.asarray(v), device=dev)
            for name, v in (
                ("leg_act", self.leg_act),
                ("arm_act", self.arm_act),
                ("grip_act", self.grip_act),
                ("comp_dofs", self.comp_dofs),
                ("imu_adr", self.imu_adr),
                ("pad_ids", self.pad_ids),
                ("leg_qadr", self.leg_qadr),
                ("leg_vadr", self.leg_vadr),
            )
        }

    def _terrain_pool(self, m: mujoco.MjModel) -> torch.Tensor:
        """Give the device model one heightfield per world, each shaped like the host model's `terrain` (flat until
        a reset draws it), and point world i's terrain geom at heightfield i. Returns the pool's elevations as a
        (num_envs, nrow * ncol) torch view of `hfield_data` (the rows `_reset_physics` writes)."""
        wp, mw, n = self.wp, self.mw, self.num_envs
        if m.nhfield != 1:
            raise ValueError(
                f"the warp terrain pool expects the twin's one heightfield, the model has {m.nhfield}"
            )
        hid = m.hfield("terrain").id
        cells = int(m.hfield_nrow[hid] * m.hfield_ncol[hid])
        self._hfield_adr = int(m.hfield_adr[hid])
        self._hfield_cells = cells
        mw.nhfield, mw.nhfielddata = n, n * cells
        mw.hfield_size = wp.array(np.tile(m.hfield_size[hid], (n, 1)), dtype=wp.vec4)
        mw.hfield_nrow = wp.array(np.full(n, m.hfield_nrow[hid]), dtype=int)
        mw.hfield_ncol = wp.array(np.full(n, m.hfield_ncol[hid]), dtype=int)
        mw.hfield_adr = wp.array(np.arange(n) * cells, dtype=int)
        mw.hfield_data = wp.zeros(n * cells, dtype=float)
        dataid = wp.to_torch(mw.geom_dataid)
        dataid[:, m.geom("terrain").id] = torch.arange(n, dtype=dataid.dtype, device=dataid.device)
        return wp.to_torch(mw.hfield_data).view(n, cells)

    def _terrain_of(self, m: mujoco.MjModel) -> np.ndarray:
        """The elevations of the `terrain` heightfield of host model `m` (a CPU env's, or the scratch copy)."""
        return m.hfield_data[self._hfield_adr : self._hfield_adr + self._hfield_cells]

    def _write_terrain(self, ids: np.ndarray, fields: list[np.ndarray]) -> None:
        """Heightfields of worlds `ids` from host elevations (one (nrow * ncol,) array per id)."""
        if self._hfield_t is not None and len(fields):
            self._hfield_t[self._ix(ids)] = torch.as_tensor(np.stack(fields), device=self.device)

    def _alloc_gather(self, n: int) -> None:
        z = torch.zeros
        dev, f32 = self.device, torch.float32
        m = self.twin.model
        self.qpos = z((n, m.nq), dtype=f32, device=dev)
        self.qvel = z((n, m.nv), dtype=f32, device=dev)
        self.com = z((n, 3), dtype=f32, device=dev)
        self.pads = z((n, 4, 3), dtype=f32, device=dev)
        self.contacts = z((n, 4), dtype=f32, device=dev)
        self.body_floor = z(n, dtype=torch.bool, device=dev)
        self.prev_action = z((n, 12), dtype=f32, device=dev)

    # ------------------------------------------------------------------ physics
    def _advance_physics(self, targets: Array, arm: np.ndarray, t_now: np.ndarray) -> None:
        t, idx = self._t, self._idx
        ctrl = t["ctrl"]
        arm_t = self._dev(arm)
        ctrl[:, idx["arm_act"]] = arm_t[:, :14]
        ctrl[:, idx["grip_act"]] = P.GRIPPER_STROKE * (1.0 - arm_t[:, 14:16])
        active = (self.push_start <= t_now) & (t_now < self.push_end)
        t["xfrc_applied"][:, self.torso, :3] = self._dev(self.push_force * active[:, None])
        slots = self._ix(delayed_slots(self.action_lag, self.decimation, self._lag_depth))
        with self._scope():
            for s in range(self.decimation):
                ctrl[:, idx["leg_act"]] = targets[self._rows_t, slots[:, s]]
                self.mjw.step(self.mw, self.dw)
        self._model_t["actuator_biasprm"][:, self._comp_rows, 0] = t["qfrc_bias"][:, idx["comp_dofs"]]

    # ------------------------------------------------------------------ state
    def _gather(self, ids: np.ndarray) -> None:
        """The state of worlds `ids` from the warp data (the contacts: one pass over all worlds' contact list)."""
        t, idx = self._t, self._idx
        ix = self._ix(ids)
        self.qpos[ix] = t["qpos"][ix]
        self.qvel[ix] = t["qvel"][ix]
        self.com[ix] = t["subtree_com"][ix, self.pelvis]
        self.pads[ix] = t["geom_xpos"][ix][:, idx["pad_ids"]]
        contacts, body_floor = self._contact_flags()
        self.contacts[ix] = contacts[ix]
        self.body_floor[ix] = body_floor[ix]
        self._push_imu(ids, t["sensordata"][ix][:, idx["imu_adr"]])

    def _contact_flags(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 4) foot pads touching a geom outside the robot and (N,) a robot geom other than a pad touching the
        ground: `sim.pad_contacts` and `X2LMOVecEnv._body_on_ground` over the batched contact list."""
        t, n, dev = self._t, self.num_envs, self.device
        geom = t["contact_geom"].long()
        valid = torch.arange(geom.shape[0], device=dev) < t["nacon"][0]
        world = torch.where(valid, t["contact_world"].long(), n)  # n: a dump row for unused entries
        g1 = torch.where(geom[:, 0] >= 0, geom[:, 0], self._pad_slot_t.shape[0] - 1)
        g2 = torch.where(geom[:, 1] >= 0, geom[:, 1], self._pad_slot_t.shape[0] - 1)
        flags = torch.zeros((n + 1) * 5, dtype=torch.float32, device=dev)  # slot 4: a dump column
        for a, b in ((g1, g2), (g2, g1)):
            slot = self._pad_slot_t[a]
            hit = (slot >= 0) & ~self._robot_t[b] & valid
            flags[world * 5 + torch.where(hit, slot, 4)] = 1.0
        contacts = flags.view(n + 1, 5)[:n, :4]
        pad = self._pad_slot_t >= 0
        body = (self._ground_t[g1] & self._robot_t[g2] & ~pad[g2]) | (
            self._ground_t[g2] & self._robot_t[g1] & ~pad[g1]
        )
        floor = torch.zeros(n + 1, dtype=torch.float32, device=dev)
        floor[torch.where(body & valid, world, n)] = 1.0
        return contacts, floor[:n] > 0.5

    # ------------------------------------------------------------------ resets
    def _reset_physics(self, ids: np.ndarray) -> None:
        """Each world's randomization drawn into the scratch model by the CPU env's `_randomize`, copied into the
        world's slice of the batched model (and its field into its heightfield); the state set to the settled
        standing one; then one forward pass."""
        m, d = self.scratch, self.scratch_data
        rows = {f: [] for f in BATCHED_FIELDS}
        terrain = []
        for i in ids:
            for f, v in self._nominal_fields.items():
                getattr(m, f)[:] = v
            self._randomize(i, m, d)  # with the terrain on: world i's field too, in the scratch heightfield
            for f in BATCHED_FIELDS:
                rows[f].append(getattr(m, f).copy())
            if self._hfield_t is not None:
                terrain.append(self._terrain_of(m).copy())
        self._write_terrain(ids, terrain)
        mujoco.mj_setState(m, d, self.init_state, STATE)
        d.qacc_warmstart[:] = 0.0
        d.ctrl[:] = self.init_ctrl
        d.xfrc_applied[:] = 0.0
        fields = {f: np.stack(v) for f, v in rows.items()}
        # The CPU env's reset forward pass runs with the gravity feed-forward its model still holds from the last
        # step (it is refreshed right after): keep that one here too, so that the first observation's
        # accelerometer is the same.
        last = self._model_t["actuator_biasprm"][self._ix(ids), self._comp_rows, 0]
        fields["actuator_biasprm"][:, self._comp_rows, 0] = last.double().cpu().numpy()
        self._write_worlds(ids, fields, [d] * len(ids))

    def _write_worlds(self, ids: np.ndarray, fields: dict[str, np.ndarray], datas: list) -> None:
        """Set worlds `ids`: their model slices (`fields`: name -> (len(ids), ...) arrays) and their physics state
        from the MjData `datas` (one per id); then forward all worlds (harmless for the others: a step starts with
        the same computation) and refresh the gravity feed-forward of `ids`."""
        ix = self._ix(ids)
        for f, v in fields.items():
            target = self._model_t[f]
            target[ix] = torch.as_tensor(v, dtype=target.dtype, device=self.device).reshape(target[ix].shape)
        for f in STATE_FIELDS:
            v = np.stack([getattr(d, f) for d in datas])
            self._t[f][ix] = torch.as_tensor(v, dtype=torch.float32, device=self.device)
        self._t["time"][ix] = torch.as_tensor(
            [d.time for d in datas], dtype=torch.float32, device=self.device
        )
        # mujoco_warp's solver leaves its solution in qacc_warmstart; MuJoCo's mj_forward does not (only mj_step
        # does): keep every world's warm start as it was, so the next step starts like the CPU env's.
        warmstart = self._t["qacc_warmstart"].clone()
        with self._scope():
            self.mjw.forward(self.mw, self.dw)
        self._t["qacc_warmstart"][:] = warmstart
        bias = self._t["qfrc_bias"][ix][:, self._idx["comp_dofs"]]
        self._model_t["actuator_biasprm"][ix, self._comp_rows, 0] = bias

    # ------------------------------------------------------------------ equivalence with the CPU env
    def load_state_from(self, cpu: X2LMOVecEnv) -> None:
        """Make every world the same as the CPU env's env of the same index: its randomized model and terrain, its
        physics state and its bookkeeping (action and IMU histories, lags, clip cursor, pushes, episode step, random
        generator). For equivalence tests: one step of both with the same action must then agree."""
        if cpu.num_envs != self.num_envs:
            raise ValueError(f"the CPU env has {cpu.num_envs} envs, this one {self.num_envs}")
        if cpu.cfg.terrain != self.cfg.terrain:
            raise ValueError(
                f"the CPU env has terrain={cpu.cfg.terrain}, this one terrain={self.cfg.terrain}"
            )
        ids = np.arange(self.num_envs)
        fields = {f: np.stack([getattr(mi, f) for mi in cpu.models]) for f in BATCHED_FIELDS}
        if self._hfield_t is not None:
            self._write_terrain(ids, [self._terrain_of(mi) for mi in cpu.models])
        self._write_worlds(ids, fields, cpu.datas)
        # The forward pass above recomputed the gravity feed-forward from the loaded state; the CPU env's models
        # hold the one of its last step (computed before that step's integration): use theirs.
        self._model_t["actuator_biasprm"][:] = torch.as_tensor(
            fields["actuator_biasprm"], dtype=torch.float32, device=self.device
        ).reshape(self._model_t["actuator_biasprm"].shape)
        for name in ("qpos", "qvel", "com", "pads", "contacts", "action_hist", "prev_action", "imu_hist"):
            getattr(self, name)[:] = torch.as_tensor(getattr(cpu, name), device=self.device)
        self.body_floor[:] = torch.as_tensor(cpu.body_floor, device=self.device)
        if self.history.length:
            self.history.buf[:] = torch.as_tensor(cpu.history.buf, device=self.device)
        for name in ("action_lag", "imu_lag", "clip_id", "clip_t", "push_start", "push_end", "push_force"):
            getattr(self, name)[:] = getattr(cpu, name)
        for name in ("payload", "friction", "strength", "roughness"):
            getattr(self, name)[:] = getattr(cpu, name)
        self.episode_length_buf[:] = cpu.episode_length_buf
        self.difficulty = cpu.difficulty
        self.rng.bit_generator.state = cpu.rng.bit_generator.state
        self._obs = self._observe_copy(cpu)

    def _observe_copy(self, cpu: X2LMOVecEnv):
        obs = cpu.get_observations()
        return obs.to(self.device)

    def close(self) -> None:
        self._t.clear()
        self._model_t.clear()
        self._hfield_t = None
