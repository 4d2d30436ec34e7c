"""robots/agibot_x2"""
