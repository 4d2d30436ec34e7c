"""`x2_scripted`: a scripted operator that solves the X2 twin's task scenes: `--teleop.type=x2_scripted` inside
lerobot-record, and `wbvla-record-sim` (record_sim.py) for scripted demos paced by sim time."""
