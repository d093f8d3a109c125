import Foundation
import XMLSupport

/// Writes SMSP CP-IS responses: the inverse of ``SMSPResponseReader``. The SMSP simulator answers
/// with it, and tests use it for responses the NHS test tool's templates do not cover.
public enum SMSPResponseBuilder {
    /// A complete SOAP 200 response.
    public static func soapResponse(_ answer: CPISAnswer, relatesTo: String?, trackingID: String = FreshUUID.string(),
                                    senderODSCode: String = "SMSP") -> String {
        let relates: XMLMarkup? = relatesTo.map { "<wsa:RelatesTo>\($0)</wsa:RelatesTo>" }
        let envelope: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <soap:Envelope xmlns:soap="\(SMSPNamespaces.soap)" xmlns:wsa="\(SMSPNamespaces.addressing)">
            <soap:Header>
            <wsa:MessageID>\(FreshUUID.string())</wsa:MessageID>
            <wsa:Action>\(SMSPConstants.responseService)</wsa:Action>
            \(relates)
            </soap:Header>
            <soap:Body>
            \(distributionEnvelope(answer, trackingID: trackingID, senderODSCode: senderODSCode))
            </soap:Body>
            </soap:Envelope>
            """
        return envelope.text
    }

    /// A SOAP 1.1 Fault with the ITK toolkit's error details (sent with HTTP 500).
    public static func soapFault(_ fault: SOAPFault) -> String {
        func element(_ name: String, _ value: String?) -> XMLMarkup? {
            value.map { "<itk:\(XMLMarkup(stringLiteral: name))>\($0)</itk:\(XMLMarkup(stringLiteral: name))>" }
        }
        let errorCode: XMLMarkup? = fault.errorCode.map {
            "<itk:ErrorCode codeSystem=\"2.16.840.1.113883.2.1.3.2.4.17.268\">\($0)</itk:ErrorCode>"
        }
        let markup: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <soap:Envelope xmlns:soap="\(SMSPNamespaces.soap)" xmlns:itk="\(SMSPNamespaces.itk)">
            <soap:Body>
            <soap:Fault>
            <faultcode>\(fault.faultCode)</faultcode>
            <faultstring>\(fault.faultString)</faultstring>
            <detail>
            <itk:ToolkitErrorInfo>
            \(element("ErrorID", fault.errorID))\(errorCode)\(element("ErrorText", fault.errorText))\
            \(element("ErrorDiagnosticText", fault.errorDiagnosticText))
            </itk:ToolkitErrorInfo>
            </detail>
            </soap:Fault>
            </soap:Body>
            </soap:Envelope>
            """
        return markup.text
    }

    public static func distributionEnvelope(_ answer: CPISAnswer, trackingID: String, senderODSCode: String)
        -> XMLMarkup
    {
        DistributionEnvelope(service: SMSPConstants.responseService, trackingID: trackingID, auditIdentity: nil,
                             payloadID: FreshUUID.string(), profileID: SMSPConstants.responseProfile,
                             senderODSCode: senderODSCode, interaction: SMSPConstants.responseInteraction,
                             payload: payload(answer))
            .markup(declaringNamespace: true)
    }

    /// The HL7 payload, `CP-ISNHSQueryResponse`: the SMSP's REPC_MT000012GB01, or, without the
    /// response code, Spine's REPC_MT000007GB01.
    public static func payload(_ answer: CPISAnswer, withResponseCode: Bool = true) -> XMLMarkup {
        func total(_ value: Int?) -> XMLMarkup {
            value.map { "<value value=\"\($0)\"/>" } ?? ""
        }
        // Each past query names the child it asked about, as the schema requires: the answer's child
        // (or, for an unborn child, the mother).
        let asked: String? = answer.plans.lazy.compactMap { plan -> String? in
            switch plan.subject {
            case .child(let nhsNumber, _, _): nhsNumber
            case .unbornChild(let mother): mother.nhsNumber
            }
        }.first
        let queried: XMLMarkup? = asked.map {
            "<queryByParameter><person.NHSnumber><value extension=\"\($0)\"/></person.NHSnumber></queryByParameter>"
        }
        let history = answer.accessHistory.map { access -> XMLMarkup in
            """
            <pertinentInformation13><pertinentCP-ISNHSQuery>
            <effectiveTime value="\(HL7Time.timestamp(access.accessedAt))"/>
            <id root="\(FreshUUID.string())"/>
            \(author(access))
            \(queried)
            </pertinentCP-ISNHSQuery></pertinentInformation13>
            """
        }
        return """
            <CP-ISNHSQueryResponse xmlns="\(SMSPNamespaces.hl7)" xmlns:npfitlc="\(SMSPNamespaces.npfitLocalisation)">
            <effectiveTime value="\(HL7Time.timestamp(answer.effectiveTime ?? Date()))"/>
            <id root="\(answer.id ?? FreshUUID.string())"/>
            \(withResponseCode ? responseCode(answer.responseCode) : "")
            <pertinentInformation11><pertinentTotalReturnedAccessRecords>\(total(answer.totalAccessRecords))\
            </pertinentTotalReturnedAccessRecords></pertinentInformation11>
            <pertinentInformation12><pertinentTotalReturnedChildRecords>\(total(answer.totalChildRecords))\
            </pertinentTotalReturnedChildRecords></pertinentInformation12>
            \(XMLMarkup(joining: history))
            \(XMLMarkup(joining: answer.plans.map(record)))
            </CP-ISNHSQueryResponse>
            """
    }

    private static func responseCode(_ code: ResponseCode) -> XMLMarkup {
        "<value codeSystem=\"\(SMSPConstants.responseCodeSystem)\" code=\"\(code.code)\" displayName=\"\(code.displayName)\"/>"
    }

    private static func record(_ plan: ProtectionPlan) -> XMLMarkup {
        let authority = plan.localAuthority
        let phones = [("WP", authority.officeHoursPhone), ("EC", authority.emergencyDutyPhone)].compactMap {
            use, phone -> XMLMarkup? in phone.map { "<telecom value=\"tel:\($0)\" use=\"\(use)\"/>" }
        }
        let (template, prefix): (String, String) = switch plan.type {
        case .childProtectionPlan: ("COCT_TP146105GB01#CPPInformation", "cPP")
        case .lookedAfterChild: ("COCT_TP146103GB01#LACInformation", "lAC")
        case .unbornChildProtectionPlan: ("COCT_TP146104GB01#UCPInformation", "uCP")
        }
        let element = XMLMarkup(stringLiteral: template.replacingOccurrences(of: "#", with: "."))
        let start = XMLMarkup(stringLiteral: "\(prefix)StartDate")
        let end = XMLMarkup(stringLiteral: "\(prefix)EndDate")
        let endDate: XMLMarkup = plan.end.map {
            "<component1><\(end)><value value=\"\(HL7Time.localMinutes($0))\"/></\(end)></component1>"
        } ?? ""
        return """
            <pertinentInformation14><pertinentCP-ISRecordControlAct><record>
            <communicationFunctionSnd><organisation>
            <id extension="\(authority.odsCode)" root="\(SMSPConstants.odsRoot)"/>
            <name>\(authority.name)</name>
            \(XMLMarkup(joining: phones))
            </organisation></communicationFunctionSnd>
            <CP-ISRecord>
            <pertinentInformation15>
            <npfitlc:contentId root="\(SMSPConstants.templateIdRoot)" extension="\(template)"/>
            <\(element)>
            <component><\(start)><value value="\(HL7Time.localMinutes(plan.start))"/></\(start)></component>
            \(endDate)
            </\(element)>
            </pertinentInformation15>
            \(subject(plan.subject))
            </CP-ISRecord>
            </record></pertinentCP-ISRecordControlAct></pertinentInformation14>
            """
    }

    private static func subject(_ subject: PlanSubject) -> XMLMarkup {
        func birth(_ date: CalendarDate?) -> XMLMarkup? { date.map { "<birthTime value=\"\(HL7Time.string($0))\"/>" } }
        // A subject's name is PN.NHS.PersonNameType6: given and family only, never a prefix.
        func name(_ name: PersonName?) -> XMLMarkup? {
            name.map { SMSPRequestBuilder.name(PersonName(given: $0.given, family: $0.family)) }
        }
        switch subject {
        case .child(let nhsNumber, let childName, let birthDate):
            let id: XMLMarkup? = nhsNumber.map { "<id extension=\"\($0)\" root=\"\(SMSPConstants.nhsNumberRoot)\"/>" }
            return """
                <subject>
                <npfitlc:contentId root="\(SMSPConstants.templateIdRoot)" extension="COCT_TP145101GB01#Child"/>
                <COCT_TP145101GB01.Child>\(id)<childPerson>\(birth(birthDate))\(name(childName))</childPerson>\
                </COCT_TP145101GB01.Child>
                </subject>
                """
        case .unbornChild(let mother):
            let id: XMLMarkup? = mother.nhsNumber.map {
                "<playedMother><id extension=\"\($0)\" root=\"\(SMSPConstants.nhsNumberRoot)\"/></playedMother>"
            }
            return """
                <subject>
                <npfitlc:contentId root="\(SMSPConstants.templateIdRoot)" extension="COCT_TP145100GB01#UnbornChild"/>
                <COCT_TP145100GB01.UnbornChild><parentMotherPerson>\(birth(mother.birthDate))\(name(mother.name))\(id)\
                </parentMotherPerson></COCT_TP145100GB01.UnbornChild>
                </subject>
                """
        }
    }

    /// A history entry's author, in the same templates as a request's.
    private static func author(_ access: AccessRecord) -> XMLMarkup {
        let organisation = access.organisation ?? Organisation(odsCode: "", name: "")
        let unknownRole = JobRole(code: "", displayName: "")
        switch access.author {
        case .user(let name, let jobRole, let sdsUserId):
            return SMSPRequestBuilder.author(Requester(organisation: organisation, author: .user(UserAuthor(
                sdsUserId: sdsUserId ?? "", jobRole: jobRole ?? unknownRole, name: name ?? PersonName()))))
        case .system(let asid, let nominatedPerson, let jobRole):
            return SMSPRequestBuilder.author(Requester(organisation: organisation, author: .system(SystemAuthor(
                asid: asid ?? "", nominatedPerson: NominatedPerson(jobRole: jobRole ?? unknownRole,
                                                                  name: nominatedPerson ?? PersonName())))))
        case nil:
            return ""
        }
    }
}
