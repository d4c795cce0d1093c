def test_record_then_search(cli):
    result = cli("record", "update", "--actor", "user:ann@example.com", "--entity", "part:p1",
                 "--old", "status=draft", "--new", "status=ready")
    assert result.exit_code == 0, result.stderr
    events = cli.json_lines("search")
    assert [e["action"] for e in events] == ["update"]
