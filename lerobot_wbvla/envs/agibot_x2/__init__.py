"""envs/agibot_x2"""
