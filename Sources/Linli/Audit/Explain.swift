import LinliStore

extension Engine {
    /// Every posting behind an account's balance, each with the event that made it read back from the log
    /// (position, type, actor, occurred and recorded time, hash) and the rate applied for verified hours;
    /// and the check that the postings add up to the balance.
    public func explain(account: String) throws -> JSONValue {
        // One snapshot for both: a write between two reads made the postings look short of the balance
        // ("postings add up: NO", exit 1) on a store nobody had tampered with.
        let (balance, lines) = try view { txn, tables in (try tables.ledgerBalance(account, txn), try Self.statement(of: account, txn, tables)) }
        var postings: [JSONValue] = []
        var sum: Int64 = 0
        for line in lines {
            sum += line.amount
            guard let event = try log.event(at: line.position) else {
                throw LogError.corrupt(position: line.position, reason: "a posting of \(account) names an event the log does not have")
            }
            var entry = line.detail.pairs
            entry.append(("eventType", .string(event.type)))
            entry.append(("eventHash", .string(event.hash.hex)))
            entry.append(("eventAgrees", .bool(event.type == line.type && event.actor == line.detail["actor"]?.stringValue)))
            entry.append(("eventPayload", (try? CBOR.decode(event.payload)) ?? .null))
            postings.append(.object(entry))
        }
        return [
            "account": .string(account), "balance": .int(balance.balance), "credited": .int(balance.credited), "debited": .int(balance.debited),
            "position": .int(Int64(balance.position)), "postings": .array(postings), "sumOfPostings": .int(sum),
            "sumEqualsBalance": .bool(sum == balance.balance),
        ]
    }

    /// An issue's full timeline with every meeting's tally (the issue document, which keeps positions).
    public func explain(issue: String) throws -> JSONValue? {
        try issueDocument(issue)
    }

    /// The events behind an elder's tier (survey, policy or override, with positions) and behind this
    /// week's plan adherence (the week's deliveries with positions).
    public func explain(elder: String, now: Timestamp? = nil) throws -> JSONValue? {
        guard let document = try elderDocument(elder, now: now) else { return nil }
        let week = ISOWeek(containing: now ?? log.options.clock())
        let thisWeek = (document["history"]?.arrayValue ?? []).filter { entry in
            guard entry["kind"] == "delivery", let at = entry["at"]?.stringValue.flatMap(Timestamp.init(iso8601:)) else { return false }
            return ISOWeek(containing: at) == week
        }
        return [
            "elder": .string(elder), "tier": document["tier"] ?? .null, "tierReason": document["tierReason"] ?? .null,
            "survey": document["survey"] ?? .null, "plan": document["plan"] ?? .null, "planSince": document["planSince"] ?? .null,
            "adherence": document["adherence"] ?? .null, "deliveriesThisWeek": .array(thisWeek),
        ]
    }
}
