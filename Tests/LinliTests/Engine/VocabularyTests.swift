@testable import Linli
import Testing

@Suite("The contract's vocabularies")
struct VocabularyTests {
    @Test("the projection names the command line offers are the engine's projections, in order")
    func projectionNames() {
        #expect(ProjectionName.values == Engine.makeProjections().map(\.name))
    }

    @Test("the specs take their values from the vocabularies: a value outside one is refused naming the field")
    func specsUseVocabularies() throws {
        let w = try World()
        try w.setUpCommunity()
        let refused = try w.refused(
            .invalidField, "dispute.report", actor: "gw-1",
            [
                ("dispute", "d-1"), ("community", "jiangshan"), ("parties", ["r-1", "r-2"]),
                ("category", "weather"), ("description", "x"), ("channel", "other"),
            ])
        #expect(refused?.field == "category")
        #expect(DisputeCategory.values.allSatisfy { refused?.message.contains($0) ?? false })
        #expect(DeliveryMode.selfCare.rawValue == "self" && VoteChoice.for.rawValue == "for")
    }
}
