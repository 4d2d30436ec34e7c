"""teleoperators"""
