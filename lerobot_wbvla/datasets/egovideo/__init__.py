"""datasets/egovideo"""
