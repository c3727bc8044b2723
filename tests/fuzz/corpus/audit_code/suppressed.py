import os
import subprocess


def run(cmd, cursor, name):
    subprocess.call(cmd, shell=True)  # nosec
    subprocess.call(cmd, shell=True)  # nosec B602
    subprocess.call(cmd, shell=True)  # nosec B101 -- wrong id: still reported  # expect: B602
    subprocess.call(  # moat: ignore[B602]
        cmd,
        shell=True,
    )
    cursor.execute(
        "SELECT * FROM t WHERE n = '%s'"
        % name  # nosec B608
    )
    os.system(cmd)  # moat: ignore
