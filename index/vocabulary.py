"""The words of the domain and of the conversation, as data: the acronyms, synonyms and short
forms of UN partnership work, the spellings staff use beside the guidance's, and the words of
chat that say nothing about the topic. `index/queries.py` reads questions with them; extend
them when a document uses a new acronym or staff type a new short form (the French and Spanish
glossary is `index/lexicon.py`).

Data only: no functions.
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
    # United Nations bodies and offices ("UN" itself is no term of a question: `EVERYWHERE`;
    # a long form would not do, for "United" stems to "unit")
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

# Staff wording -> the wording of UN partnership guidance. Only true synonyms in this domain
# (the private sector is what the guidance calls companies), searched with a lower weight.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "company": ("business", "private sector"),
    "companies": ("business", "private sector"),
    "corporate": ("business", "private sector"),
    "corporation": ("business", "private sector"),
    "corporations": ("business", "private sector"),
    "firm": ("business", "private sector"),
    "firms": ("business", "private sector"),
    "donation": ("contribution",),
    "donations": ("contributions",),
    "fundraising": ("resource mobilization",),
    "fundraise": ("resource mobilization",),
    "vetting": ("screening", "due diligence"),
    "vet": ("screen", "due diligence"),
    # UN agencies, funds and programmes are "entities" or "organizations" in the guidance
    "agency": ("entity", "organization"),
    "agencies": ("entities", "organizations"),
    "afford": ("resources",),
    # "hard to manage" is "complex to manage" in the guidance; not "difficult", which it
    # prints in idioms ("difficult to dispute", "difficult to ascertain")
    "hard": ("complex",),
    # the guidance "selects" partners; staff "choose" or "pick" them
    "choose": ("select",),
    "chooses": ("select",),
    "choosing": ("selection",),
    "chose": ("selected",),
    "chosen": ("selected",),
    "pick": ("select",),
    "picks": ("select",),
    "picking": ("selection",),
    "picked": ("selected",),
    "choice": ("selection",),
    "choices": ("selection",),
    # nor does it say "money": it speaks of funding, funds and financial resources
    "money": ("funding", "funds", "financial resources"),
}

# Short forms staff type, in any case, written out before anything else ("rec 2" ->
# "recommendation 2"): unlike an acronym, the short form itself is never in the guidance.
ABBREVIATIONS: dict[str, str] = {
    "rec": "recommendation", "recs": "recommendations", "reco": "recommendation",
    "recos": "recommendations", "recc": "recommendation", "recom": "recommendation",
    "recomm": "recommendation", "recommend.": "recommendation",
    "org": "organization", "orgs": "organizations", "govt": "government",
    "govts": "governments", "mgmt": "management", "mgt": "management", "info": "information",
    "dept": "department", "depts": "departments", "approx": "approximately",
    "incl": "including",
    "pls": "please", "plz": "please", "thx": "thanks", "abt": "about", "w/o": "without",
    "b/c": "because", "bc": "because", "govt.": "government", "int'l": "international",
    "intl": "international", "reqs": "requirements", "req": "requirement",
    "u": "you", "r": "are", "w": "with", "ur": "your", "pple": "people", "ppl": "people",
    "re": "about",  # "what do we do re UN principles" (not "re-evaluate": a hyphen follows)
}

# Spellings staff type that the guidance writes otherwise (it writes "organization",
# "programme", "labour", "defence"): British "-ise" and "-isation", American "-or", "-er",
# "-se". Each is written the guidance's way before the question is read; `SPELLING_STEMS` are
# the stems whose "-ise", "-ised", "-ises", "-ising" become "-ize" ... ("prioritise").
SPELLINGS: dict[str, str] = {
    "labor": "labour", "behavior": "behaviour", "behaviors": "behaviours",
    "center": "centre", "centers": "centres", "defense": "defence", "favor": "favour",
    "catalog": "catalogue", "dialog": "dialogue", "fulfill": "fulfil", "enroll": "enrol",
    # the commonest misspellings of words of this domain (typed fast, in a chat)
    "seperate": "separate", "seperately": "separately", "independant": "independent",
    "definately": "definitely", "recieve": "receive", "recieved": "received",
    "occured": "occurred", "goverment": "government", "goverments": "governments",
    "enviroment": "environment", "enviromental": "environmental", "accomodate": "accommodate",
    "untill": "until", "wich": "which", "thier": "their", "adress": "address",
    "comittee": "committee", "commitee": "committee", "responsability": "responsibility",
    "managment": "management", "buisness": "business", "bussiness": "business",
    "buisnesses": "businesses", "parnter": "partner", "parnters": "partners",
    "partnerhsip": "partnership", "partnerhsips": "partnerships",
    "implmenting": "implementing", "implemeting": "implementing", "guidlines": "guidelines",
    "acheive": "achieve", "neccessary": "necessary", "necesary": "necessary",
    "sucessful": "successful", "succesful": "successful", "occurence": "occurrence",
    "benificiary": "beneficiary", "benificiaries": "beneficiaries",
}
SPELLING_STEMS = ("organ", "priorit", "mobil", "harmon", "categor", "recogn", "util", "standard",
                  "formal", "final", "minim", "maxim", "emphas", "central", "decentral",
                  "operational", "institutional", "internal", "capital", "optim", "summar",
                  "character", "author", "special", "real", "local", "national")

# Words of the conversation, not of the topic: asking about the guidance ("what does the
# guidance suggest", "what should the training cover", "what did the review look at"), hedges
# and politeness ("actually", "pls"). They are neither searched for nor required in a passage,
# so a question typed the way people chat is judged on its topic ("the main types": "main" is a
# hedge). (None of the five documents
# prints "cover" or "look"; the calibration part answered 2 more questions without them.)
CHAT_WORDS = frozenset("""
actually basically really exactly literally honestly just simply quite pretty kind sort bit
please kindly thanks thank hi hello hey dear ok okay anyway anyhow also else maybe perhaps
probably possibly currently generally usually wondering wonder curious quick quickly question
questions ask asks asking asked tell telling explain explaining know knowing knew understand mean
means meaning say says saying said mention mentions mentioned suggest suggests suggested
recommend recommends guidance document documents text texts source sources paper papers
think thought want wants wanted wanting need needs needed like would could might must shall
get gets got getting go goes going thing things stuff something anything everything someone
anyone somebody anybody lot lots many much right correct true wrong sure way ways etc
quote quoted quoting cite cited wise u ur pls plz
cover covers covered covering look looks looked looking yet still main enough meant supposed
""".split())
# Idioms of the conversation, dropped as a whole ("in the first place" is no place).
CHAT_PHRASES = re.compile(r"\b(?:in the first place|at the moment|at all|as such|to be honest|"
                          r"by the way|for example|for instance|in general|if any|"
                          r"is that right|is that true|or not|up to date|one[- ]off|make sure|"
                          r"(?:still|yet) to come)\b", re.IGNORECASE)
