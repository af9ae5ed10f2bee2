#!/usr/bin/env python3
# The ledger benchmark's command mix as NDJSON for the command line: hours.log, hours.verify of the previous
# day's logs, gift.redeem by residents with points, 1,000 commands a day, over 1,000 residents. Writes
# setup.ndjson (community, rate, roles, residents, stock), ledger.ndjson (COMMANDS commands) and
# one.ndjson (the first of them) into FOLDER. Used by count-instructions.sh and measure-audit-pylmdb.sh.
# usage: Scripts/ledger-commands.py FOLDER COMMANDS
import json, sys
work, total = sys.argv[1], int(sys.argv[2])
def line(name, id, actor, at, fields):
    d = {"command": name, "id": id, "actor": actor, "at": at}; d.update(fields)
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))
R = 1000
setup = [line("community.register", "s-0", "admin", "2024-01-01T08:00:00+08:00", {"community": "jiangshan", "name": "市中心社区", "district": "虎山街道"}),
         line("points.rate.set", "s-1", "admin", "2024-01-01T08:00:00+08:00", {"community": "jiangshan", "pointsPerHour": 10})]
for i, (s, r) in enumerate([("gw-1", "gridWorker"), ("sw-1", "socialWorker"), ("sk-1", "storeKeeper")]):
    setup.append(line("role.grant", f"s-r{i}", "admin", "2024-01-01T08:00:00+08:00", {"subject": s, "role": r, "community": "jiangshan"}))
for i in range(R):
    setup.append(line("resident.register", f"s-p{i}", "gw-1", "2024-01-02T08:00:00+08:00",
                      {"resident": f"r-{i}", "community": "jiangshan", "household": f"h-{i // 3}", "name": "王秀英", "birthYear": 1950}))
setup.append(line("gift.stock", "s-g", "sk-1", "2024-01-02T08:00:00+08:00", {"item": "towel", "community": "jiangshan", "name": "毛巾", "pricePoints": 1, "quantity": 1000000}))
open(f"{work}/setup.ndjson", "w").write("\n".join(setup) + "\n")
out, pending, balance, n = [], [], [0] * R, 0
for batch in range((total + 999) // 1000):
    day = "2024-%02d-%02dT" % (2 + batch // 28, 1 + batch % 28)
    verifiable, pending, count = pending, [], 0
    while count < 1000 and len(out) < total:
        n += 1; r = (n * 7919) % R
        if n % 5 == 0 and balance[r] >= 1:
            balance[r] -= 1
            out.append(line("gift.redeem", f"c-{n}", "sk-1", day + "18:00:00+08:00", {"redemption": f"x-{n}", "resident": f"r-{r}", "item": "towel", "quantity": 1}))
        elif verifiable and n % 2 == 0:
            log, rr, minutes = verifiable.pop(); balance[rr] += minutes * 10 // 60
            out.append(line("hours.verify", f"c-{n}", "sw-1", day + "17:00:00+08:00", {"log": log}))
        else:
            minutes = 30 + n % 8 * 15; pending.append((f"l-{n}", r, minutes))
            out.append(line("hours.log", f"c-{n}", "gw-1", day + "09:30:00+08:00",
                            {"log": f"l-{n}", "volunteer": f"r-{r}", "minutes": minutes, "activity": "敲门入户", "category": "visit"}))
        count += 1
    pending += verifiable
open(f"{work}/ledger.ndjson", "w").write("\n".join(out) + "\n")
open(f"{work}/one.ndjson", "w").write(out[0] + "\n")
