import os


def ok(cmd):
    os.system(cmd)  # expect: B605


def broken(:
    pass
