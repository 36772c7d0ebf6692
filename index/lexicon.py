"""French and Spanish terms of UN partnership work with their English equivalents, so that
keyword search can read a French or Spanish question against the English guidance.

The dense model matches a French or Spanish question with English passages across languages
(index/embedders.py); BM25 and the coverage part of the confidence read words, and the English
stemmer would match "formation" with "formation", never with "training". `english_terms`
finds the domain terms of this glossary in a question and gives their English: "partenaires
d'exécution" -> "implementing partner", "debida diligencia" -> "due diligence", "formation" ->
"training"; the English name of a term, which staff often write in a French or Spanish
sentence ("nos implementing partners"), is read as the term too. It is vocabulary of the
domain (the terms the UN's own French and Spanish documents use for what the guidance covers:
partners and partnerships, due diligence, risk, oversight, results-based management,
training, the private sector), not of particular questions; extend it as documents add terms.
A word it does not hold is left to the dense model.

Matching is on the folded text (lower case, no accents, apostrophes as spaces) without the
function words listed per language, so "partenaire de réalisation", "partenaires
d'execution" and "PARTENAIRES D'EXÉCUTION" all match; each word of a term may take its plural
("-s", "-x"; "-s", "-es"). The longest term found at a place wins.

Pure data and functions: no model, no index.
"""

from __future__ import annotations

import re
import unicodedata

# "term as folded, singular, function words left out = english | other english" per line.
_TERMS = {
    "fr": """
partenaire execution = implementing partner
partenaire realisation = implementing partner
partenaire mise oeuvre = implementing partner
partenaire operationnel = implementing partner
partenaire = partner
partenariat = partnership
entreprise = business | company
societe = company
milieu affaire = business
secteur prive = private sector
gestion axee resultat = results-based management
gestion resultat = results-based management
diligence raisonnable = due diligence
verification prealable = due diligence
vigilance = due diligence
formation = training
former = train
apprentissage ligne = e-learning
renforcement capacite = capacity building
renforcer capacite = capacity building
capacite = capacity
evaluation impact = impact assessment
evaluation = evaluation | assessment
evaluer = evaluate | assess
evalue = evaluate | assess
evaluee = evaluate | assess
risque = risk
registre risque = risk register
gestion risque = risk management
fraude = fraud
exploitation abus sexuel = sexual exploitation and abuse
abus = abuse
point focal = focal point
rapport annuel = annual report
rapport = report
organe directeur = governing bodies
etat membre = Member States
assemblee generale = General Assembly
coordonnateur resident = resident coordinator
coordinateur resident = resident coordinator
bureau coordonnateur resident = resident coordinator office
bureau pays = country office
equipe pays = country team
pacte mondial = Global Compact
principe = principle
portail partenaire = Partner Portal
portail = portal
code conduite fournisseur = supplier code of conduct
code conduite = code of conduct
fournisseur = supplier
conflit interet = conflict of interest
don nature = in-kind
contribution = contribution
financement = funding
fonds = funds
collecte fonds = fundraising
mobilisation ressource = resource mobilization
budget = budget
ressource = resource
personnel = staff
haute direction = senior management
haut fonctionnaire = senior manager | senior official
contrat mission = compact
direction = management
gestion = management
gerer = manage
gere = manage
geree = manage
appropriation nationale = national ownership
appropriation = ownership
indicateur cle performance = key performance indicator
indicateur = indicator
suivi = monitoring
controle = oversight
audit = audit
auditer = audit
audite = audit
auditee = audit
transparence = transparency
responsabilite = accountability
redevabilite = accountability
definition = definition
strategie = strategy
politique = policy
directive = guidelines
ligne directrice = guidelines
procedure operationnelle standard = standard operating procedures
procedure = procedure
selection = selection
selectionner = select
selectionne = select
selectionnee = select
critere = criteria
filtrage = screening
examen = review
norme = standard
unite = unit
systeme = system
interinstitution = inter-agency
interagence = inter-agency
inter agence = inter-agency
agence = agency
organisation = organization
cout = cost
avantage = benefit
impact = impact
resultat = result
performance = performance
donnee = data
base donnee = database
connaissance = knowledge
partage = sharing
echange personnel = staff exchange
outil = tool
boite outil = toolkit
publication = publication
reunion = meeting
reseau = network
juridique = legal
approbation = clearance | approval
petite moyenne entreprise = small and medium-sized enterprises
pays developpement = developing countries
developpement durable = sustainable development
secours urgence = emergency relief
urgence = emergency
humanitaire = humanitarian
bien service = goods and services
reputation = reputation
integrite = integrity
droit homme = human rights
environnement = environment
corruption = corruption
gouvernement = government
societe civile = civil society
recommandation = recommendation
mise oeuvre = implementation
plan action = action plan
inventaire = inventory | mapping | take stock
cartographie = mapping
portefeuille = portfolio
recherche = research
innovation = innovation
marche = market
investissement = investment
philanthropie = philanthropy
fondation = foundation
donateur = donor
accord = agreement
contrat = contract
harmonisation = harmonization
approche harmonisee transfert espece = harmonized approach to cash transfers
transfert espece = cash transfer
espece = cash
avance = advance
montant = amount
maturite = maturity
culture resultat = results culture
incitation = incentive
enseignement tire = lessons learned
sensibilisation = awareness
competence = skills | competencies
cours = course
coordination = coordination
prevention = prevention
engagement = engagement
participation = participation
mesure = measure
proposition = proposal
coordonnee = contact details
constatation = findings
conclusion = findings | conclusions
classer = classify | categorise
categorie = category
argent = money
pro bono = pro bono
""",
    "es": """
socio implementador = implementing partner
socio ejecucion = implementing partner
socio ejecutor = implementing partner
socio implementacion = implementing partner
asociado ejecucion = implementing partner
asociado implementacion = implementing partner
socio = partner
asociado = partner
alianza = partnership
asociacion = partnership
empresa = business | company
compania = company
sector privado = private sector
sector empresarial = business sector
gestion basada resultado = results-based management
gestion resultado = results-based management
debida diligencia = due diligence
diligencia debida = due diligence
capacitacion = training
formacion = training
capacitar = train
aprendizaje linea = e-learning
fortalecimiento capacidad = capacity building
fortalecer capacidad = capacity building
creacion capacidad = capacity building
desarrollo capacidad = capacity development
capacidad = capacity
evaluacion impacto = impact assessment
evaluacion = evaluation | assessment
evaluar = evaluate | assess
evaluado = evaluate | assess
evaluada = evaluate | assess
riesgo = risk
registro riesgo = risk register
gestion riesgo = risk management
fraude = fraud
explotacion abuso sexual = sexual exploitation and abuse
abuso = abuse
punto focal = focal point
informe anual = annual report
informe = report
organo rector = governing bodies
organo gobierno = governing bodies
estado miembro = Member States
asamblea general = General Assembly
coordinador residente = resident coordinator
oficina coordinador residente = resident coordinator office
oficina pais = country office
equipo pais = country team
pacto mundial = Global Compact
principio = principle
portal asociado = Partner Portal
portal = portal
codigo conducta proveedor = supplier code of conduct
codigo conducta = code of conduct
proveedor = supplier
conflicto interes = conflict of interest
donacion especie = in-kind
especie = in-kind
contribucion = contribution
financiacion = funding
financiamiento = funding
fondo = funds
recaudar fondo = fundraising
recaudacion fondo = fundraising
movilizacion recurso = resource mobilization
presupuesto = budget
recurso = resource
personal = staff
alta direccion = senior management
alto directivo = senior manager
alto funcionario = senior manager | senior official
direccion = management
gestion = management
gestionar = manage
gestionado = manage
gestionada = manage
apropiacion nacional = national ownership
apropiacion = ownership
indicador clave desempeno = key performance indicator
indicador = indicator
desempeno = performance
seguimiento = monitoring
supervision = oversight
auditoria = audit
auditar = audit
auditado = audit
auditada = audit
transparencia = transparency
rendicion cuenta = accountability
definicion = definition
estrategia = strategy
politica = policy
directriz = guidelines
directrice = guidelines
orientacion = guidance
procedimiento operativo estandar = standard operating procedures
procedimiento = procedure
seleccion = selection
seleccionar = select
seleccionado = select
seleccionada = select
criterio = criteria
norma = standard
unidad = unit
sistema = system
interinstitucional = inter-agency
interagencial = inter-agency
inter institucional = inter-agency
inter agencial = inter-agency
agencia = agency
organismo = agency
organizacion = organization
costo = cost
coste = cost
beneficio = benefit
impacto = impact
resultado = result
dato = data
base dato = database
conocimiento = knowledge
intercambio personal = staff exchange
herramienta = tool
caja herramienta = toolkit
publicacion = publication
reunion = meeting
red = network
juridico = legal
aprobacion = clearance | approval
pequena mediana empresa = small and medium-sized enterprises
pais desarrollo = developing countries
desarrollo sostenible = sustainable development
socorro emergencia = emergency relief
emergencia = emergency
humanitario = humanitarian
bien servicio = goods and services
reputacion = reputation
integridad = integrity
derecho humano = human rights
medio ambiente = environment
corrupcion = corruption
gobierno = government
sociedad civil = civil society
recomendacion = recommendation
aplicacion = implementation
implementacion = implementation
plan accion = action plan
inventario = inventory | mapping | take stock
cartera = portfolio
investigacion = research
innovacion = innovation
mercado = market
inversion = investment
filantropia = philanthropy
fundacion = foundation
donante = donor
acuerdo = agreement
contrato = contract
armonizacion = harmonization
enfoque armonizado transferencia efectivo = harmonized approach to cash transfers
transferencia efectivo = cash transfer
efectivo = cash
anticipo = advance
monto = amount
madurez = maturity
cultura resultado = results culture
incentivo = incentive
leccion aprendida = lessons learned
sensibilizacion = awareness
habilidad = skills
competencia = skills | competencies
curso = course
coordinacion = coordination
prevencion = prevention
participacion = participation
induccion = induction
etapa = stage
propuesta = proposal
dato contacto = contact details
contacto = contact
hallazgo = findings
conclusion = findings | conclusions
clasificar = classify | categorise
clasificado = classify | categorise
clasificada = classify | categorise
categoria = category
dinero = money
pro bono = pro bono
medir = measure
medicion = measurement
""",
}
# Left out before matching: articles, prepositions, elided forms.
_FUNCTION_WORDS = {
    "fr": frozenset("""
a au aux d de des du en et l la le les un une pour par sur dans avec sans qu que s n c j m t
""".split()),
    "es": frozenset("""
a al de del el en la las lo los un una unos unas y e o para por sobre con sin que
""".split()),
}
# Everyday phrases that hold a glossary word in another sense, left out before matching ("au
# fond" is "basically", not "funds"; "en curso" is "under way", not "course"). Folded text.
_IDIOMS = {
    "fr": re.compile(r"\b(?:au|sur le) fond\b|\ben cours\b|\bau cours d|"
                     r"\b(?:a l'|en |par )avance\b|\b(?:ca|cela|qui|ne|n'|il|elle) marche\b|"
                     r"\bquelle mesure\b|\bdans la mesure ou\b|\ben mesure d|\ben principe\b"),
    "es": re.compile(r"\b(?:a|en el) fondo\b|\ben curso\b|\b(?:al|en) principio\b|"
                     r"\bde acuerdo (?:con|a)\b|\b(?:es|sea|son|sean|ser|mas|muy|poco|tan|"
                     r"resulta|resultan|realmente) efectiv[oa]s?\b"),
}
_PLURALS = {"fr": ("s", "x"), "es": ("es", "s")}
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, without accents; "œ" as "oe"."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


# English words of the glossary that are everyday words of the language in another sense
# (French "course" is an errand, "report" a postponement): not read as English there.
_FALSE_FRIENDS = {"fr": frozenset({"course", "report", "compact", "select"}),
                  "es": frozenset()}


def _table(language: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The terms of a language, then the English of each as a term of its own: staff writing
    in French or Spanish often use the English name ("nos implementing partners", "la due
    diligence", "le UN Partner Portal")."""
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    for line in _TERMS[language].strip().splitlines():
        term, _, english = line.partition("=")
        key = tuple(_WORD.findall(fold(term)))
        table[key] = tuple(e.strip() for e in english.split("|") if e.strip())
    for ways in list(table.values()):
        for way in ways:
            key = tuple(_WORD.findall(fold(way)))
            if key not in table and " ".join(key) not in _FALSE_FRIENDS[language]:
                table[key] = ways
    return table


_TABLES = {language: _table(language) for language in _TERMS}
_LONGEST = {language: max(map(len, table)) for language, table in _TABLES.items()}


def _singulars(word: str, language: str) -> set[str]:
    """The word and what it may be the plural of."""
    out = {word}
    for ending in _PLURALS[language]:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            out.add(word[: -len(ending)])
    if language == "es" and word.endswith("ces"):  # directrices -> directriz
        out.add(word[:-3] + "z")
    return out


def folded_words(text: str, language: str) -> list[str]:
    """The words of a French or Spanish text as the glossary reads them: folded, without the
    everyday phrases (`_IDIOMS`)."""
    idioms = _IDIOMS.get(language)
    folded = fold(text.replace("’", "'"))
    return _WORD.findall(idioms.sub(" ", folded) if idioms else folded)


def english_terms(text: str, language: str) -> list[tuple[str, tuple[str, ...]]]:
    """The glossary terms of a French or Spanish text, in order: (the words as found, their
    English ways to say it, the first the usual one). Empty for another language."""
    table = _TABLES.get(language)
    if table is None:
        return []
    words = [w for w in folded_words(text, language) if w not in _FUNCTION_WORDS[language]]
    found: list[tuple[str, tuple[str, ...]]] = []
    position = 0
    while position < len(words):
        for size in range(min(_LONGEST[language], len(words) - position), 0, -1):
            window = words[position:position + size]
            options = [_singulars(w, language) for w in window]
            match = next((key for key in _keys(options) if key in table), None)
            if match is not None:
                found.append((" ".join(window), table[match]))
                position += size
                break
        else:
            position += 1
    return found


def _keys(options: list[set[str]]) -> list[tuple[str, ...]]:
    """Every key the words may spell (each word as written or as its singular)."""
    keys: list[tuple[str, ...]] = [()]
    for choices in options:
        keys = [(*key, choice) for key in keys for choice in sorted(choices)]
    return keys
