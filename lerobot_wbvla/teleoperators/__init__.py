"""Teleoperators for the AgiBot X2 (each subpackage registers its `--teleop.type` when imported):

- `x2_leader`: two 7-DoF Dynamixel leader arms with gripper triggers (arms + grippers of the whole-body action);
- `x2_loco` : `x2_loco_keyboard` and `x2_loco_gamepad`, the locomotion part (`loco.*`);
- `x2_whole_body`: leader arms + a locomotion device = the full whole-body action (use this one with
  `lerobot-record --robot.type=agibot_x2`);
- `x2_scripted`: a scripted operator that solves the twin's task scenes;
- `dxl_sim`: a Dynamixel Protocol 2.0 servo simulator behind `dxlsim://` serial URLs (tests, demos).

This module imports nothing, so importing one teleoperator does not pull in the others.
"""
