"""`--teleop.type=x2_scripted`: a scripted operator that solves the X2 twin's task scenes for lerobot-record."""
