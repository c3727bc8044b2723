def find(cursor, name, uid, table):
    cursor.execute("SELECT * FROM users WHERE name = '" + name + "'")  # expect: B608:medium
    cursor.execute("SELECT * FROM users WHERE id = %s" % uid)  # expect: B608:medium
    cursor.execute("DELETE FROM {} WHERE id = 1".format(table))  # expect: B608:medium
    cursor.execute(f"UPDATE users SET name = '{name}' WHERE id = {uid}")  # expect: B608:medium
    query = "INSERT INTO log (msg) VALUES ('" + name + "')"  # expect: B608:low
    cursor.execute(
        "SELECT a FROM b "  # expect: B608:medium
        "WHERE c = " + name
    )
    return query
