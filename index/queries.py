"""Query normalisation: domain acronyms spelled out, and a message cut into its sentences.

Staff write "IP", "PSEA" or "KPIs" where the guidance prints "implementing partner", "prevention
of sexual exploitation and abuse" or "key performance indicators". Neither BM25 (no shared word)
nor the small dense model (which reads "IP" as intellectual property) connects the two, so each
known acronym in a query is followed by its long form before searching: the acronym itself stays,
for the passages that print it. The table is data about the domain (UN partnership and oversight
vocabulary), not about particular questions; extend it when a document uses a new acronym.

Pure functions only: no model, no index.
"""

from __future__ import annotations

import re

# Acronym as written (case matters: "WHO" the agency, not "who") -> its long form.
# A plural "s" on the acronym ("IPs", "KPIs") is understood; the long form is used as given.
ACRONYMS: dict[str, str] = {
    # partners and partnership management
    "IP": "implementing partner",
    "UNPP": "United Nations Partner Portal",
    "CSO": "civil society organization",
    "NGO": "non-governmental organization",
    "INGO": "international non-governmental organization",
    "CBO": "community-based organization",
    "SME": "small and medium-sized enterprise",
    "MSME": "micro, small and medium-sized enterprise",
    "PPP": "public-private partnership",
    "CSR": "corporate social responsibility",
    "ESG": "environmental, social and governance",
    "GC": "Global Compact",
    "UNGC": "United Nations Global Compact",
    "DD": "due diligence",
    "CoI": "conflict of interest",
    "COI": "conflict of interest",
    "MoU": "memorandum of understanding",
    "MOU": "memorandum of understanding",
    "ToR": "terms of reference",
    "TOR": "terms of reference",
    "SOP": "standard operating procedure",
    "HACT": "harmonized approach to cash transfers",
    "PSEA": "prevention of sexual exploitation and abuse",
    "SEA": "sexual exploitation and abuse",
    "SEAH": "sexual exploitation, abuse and harassment",
    "PRI": "Principles for Responsible Investment",
    # results, oversight and planning
    "RBM": "results-based management",
    "KPI": "key performance indicator",
    "M&E": "monitoring and evaluation",
    "QCPR": "quadrennial comprehensive policy review",
    "ERM": "enterprise risk management",
    "ERP": "enterprise resource planning",
    "SDG": "Sustainable Development Goal",
    "MDG": "Millennium Development Goal",
    "UNDAF": "United Nations Development Assistance Framework",
    "PSC": "programme support cost",
    # United Nations bodies and offices
    "UN": "United Nations",
    "JIU": "Joint Inspection Unit",
    "CEB": "Chief Executives Board for Coordination",
    "HLCM": "High-level Committee on Management",
    "GA": "General Assembly",
    "SG": "Secretary-General",
    "DSG": "Deputy Secretary-General",
    "RC": "resident coordinator",
    "RCO": "resident coordinator office",
    "RCS": "resident coordinator system",
    "DCO": "Development Coordination Office",
    "UNCT": "United Nations country team",
    "CO": "country office",
    "HQ": "headquarters",
    "UNDG": "United Nations Development Group",
    "UNSDG": "United Nations Sustainable Development Group",
    "UNSSC": "United Nations System Staff College",
    "UNFIP": "United Nations Fund for International Partnerships",
    "UNF": "United Nations Foundation",
    "UNDP": "United Nations Development Programme",
    "UNEP": "United Nations Environment Programme",
    "UNICEF": "United Nations Children's Fund",
    "UNIDO": "United Nations Industrial Development Organization",
    "UNIFEM": "United Nations Development Fund for Women",
    "UNHCR": "United Nations High Commissioner for Refugees",
    "UNFPA": "United Nations Population Fund",
    "OCHA": "Office for the Coordination of Humanitarian Affairs",
    "OLA": "Office of Legal Affairs",
    "OIOS": "Office of Internal Oversight Services",
    "UNJSPF": "United Nations Joint Staff Pension Fund",
    "WFP": "World Food Programme",
    "WHO": "World Health Organization",
    "FAO": "Food and Agriculture Organization",
    "ILO": "International Labour Organization",
    "ECE": "Economic Commission for Europe",
    "UNECE": "United Nations Economic Commission for Europe",
    "ESCAP": "Economic and Social Commission for Asia and the Pacific",
    "CSD": "Commission on Sustainable Development",
    "EXCOM": "Executive Committee",
    "DES": "Deputy Executive Secretary",
}

_ACRONYM = re.compile(
    r"(?<![\w&])(" + "|".join(sorted(map(re.escape, ACRONYMS), key=len, reverse=True))
    + r")(s|’s|'s)?(?![\w&])"
)
# After ? or !, or after a full stop that ends a word of 3+ letters before a capital ("e.g. x",
# "No. 5" and "U.N. staff" do not end a sentence).
_SENTENCE = re.compile(r"(?<=[?!])\s+(?=\S)|(?<=[^\W\d_]{3}\.)\s+(?=[A-Z\"“(])")


def expand_acronyms(query: str) -> str:
    """`Do IPs need PSEA training?` -> `Do IPs (implementing partners) need PSEA (prevention
    of sexual exploitation and abuse) training?`; a long form already in the query is not added
    twice."""
    lowered = query.lower()

    def spell(match: re.Match[str]) -> str:
        acronym, suffix = match.group(1), match.group(2) or ""
        long_form = ACRONYMS[acronym]
        if long_form.lower() in lowered:
            return match.group(0)
        if suffix == "s" and not long_form.endswith("s"):
            long_form += "s"
        return f"{acronym}{suffix} ({long_form})"

    return _ACRONYM.sub(spell, query)


def sentences(query: str) -> list[str]:
    """The sentences of a message (see `_SENTENCE` for where it is cut)."""
    return [part.strip() for part in _SENTENCE.split(query.strip()) if part.strip()]


def focus_sentence(query: str) -> str | None:
    """The last sentence of a message of several sentences, else None.

    A follow-up is searched as `<previous question> <follow-up>`; the last sentence is what is
    asked now, the earlier ones are context.
    """
    parts = sentences(query)
    return parts[-1] if len(parts) > 1 else None
