"""Om tallene: the help page — where the data come from, what each stage and indicator
means, how fresh each source is, and how the figures are protected (the cell-key method),
in plain bokmål."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import disclosure, labels, ui

SOURCES = """
Dashbordet setter sammen pseudonymiserte opplysninger fra fire kilder, som hver for seg bare
ser sin del av løpet, og kommunenes bosettingsplaner. Ingen navn eller fødselsnumre finnes i datavarehuset.

| Kilde | Hva den leverer |
|---|---|
| **Introprogrammet** (kommunene) | bosetting, start og slutt på introduksjonsprogrammet, permisjoner, overgang etterpå |
| **Voksenopplæringen** | søknad, start og slutt på norskopplæring, grunnskole og videregående for voksne |
| **Kombinasjonsklasser** (skolene) | elevlister per skoleår: søknadsdato, start og status |
| **Trøndelagsmodellen** | skoleplass, arbeidstrening, læretid, fagbrev og arbeid |
| **Bosettingsplaner** (fylket samler dem) | IMDis anmodning og kommunenes vedtak om hvor mange flyktninger de skal bosette hvert år; ingen personopplysninger. Brukes i prognosen på Planlegging |

### Trinnene

| Trinn | Betyr |
|---|---|
| Bosetting | personen ble bosatt i en kommune (en hendelse, ikke en periode) |
| Introprogram | introduksjonsprogrammet i kommunen |
| Norskopplæring | opplæring i norsk i voksenopplæringen |
| Grunnskole for voksne | grunnskoleopplæring i voksenopplæringen |
| Kombinasjonsklasse | klasse som kombinerer grunnskole og videregående |
| Videregående | videregående opplæring (voksenopplæringen eller skoleplass i Trøndelagsmodellen) |
| Arbeidstrening | arbeidstrening i Trøndelagsmodellen |
| Læretid | lærling i Trøndelagsmodellen |
| Fagbrev | bestått fag- eller svenneprøve (en hendelse) |
| Arbeid | registrert i arbeid (ingen kilde melder når en jobb slutter) |

### Hva tallene teller

- **Personer på et trinn nå** (Oversikt): personer med et pågående forløp på trinnet på datoen dataene gjelder.
- **Personer som har vært på et trinn** (Kohort, Forløp): hver person telles én gang per trinn.
  Kohort teller bare personer med kjent bosetting; på Forløp starter de andre i «Ukjent bosetting».
- **Avbrutt** (Frafall): personer som har avbrutt trinnet minst én gang, også de som gikk videre.
  «Avbrøt siste trinn» på Forløp teller bare dem som avbrøt det siste trinnet sitt.
- **Fullført / avsluttet**: et trinn er avsluttet når det er fullført, avbrutt eller personen er
  overført (for eksempel flyttet til en annen kommune).
- **Ventetid**: dager fra søknad om skoleplass til oppstart. De som fortsatt venter, har ventet
  «så langt». Skoleåret går fra 1. august til 31. juli.
- **Målet på 70 %**: andelen av dem som avsluttet introprogrammet et år, som er i arbeid eller
  utdanning 30. november året etter – slik den nasjonale indikatoren regnes.

### Tegn i tabellene

| Tegn | Betyr |
|---|---|
| **<5** | færre enn 5 personer (også 0) |
| **:** | andelen vises ikke fordi et av tallene bak den er under 5 personer |
| tom celle | median eller 90-persentil for en gruppe som er for liten (under 5 eller under 10 personer) |
"""

TEXT = f"""
Dashbordet viser tall om personer som er i en sårbar situasjon. Ingen skal kunne finne ut
noe om én person eller noen få personer ut fra tallene – heller ikke ved å sammenligne
tall fra ulike utvalg, sider eller nedlastinger. Derfor er alle tall om personer
beskyttet med **cellenøkkelmetoden**, den samme metoden som statistikkbyråer bruker for
interaktive tabeller (Australian Bureau of Statistics, de tyske statistikkontorene).
Statistikkbyråene i Canada og New Zealand publiserer folketellingstall med den
samme avrundingen.

### Slik virker det

1. **Hver person har en fast, hemmelig nøkkel** – et tilfeldig tall som er laget av
   personens pseudonym og en hemmelighet som bare finnes i datavarehuset. Nøkkelen vises
   aldri.
2. **Hvert tall i en tabell er en «celle»**: en gruppe personer. Cellens nøkkel er summen
   av nøklene til personene i gruppen. Samme gruppe personer gir alltid samme
   cellenøkkel – uansett hvilken side, hvilket filter eller hvilken nedlasting tallet
   kommer fra.
3. **Tallet avrundes til et multiplum av {disclosure.BASE}**, opp eller ned. Cellenøkkelen
   avgjør hvilken vei, og sjansen for å runde opp er større jo nærmere tallet er neste
   femmer (tallet 13 rundes opp til 15 i tre av fem celler og ned til 10 i to av fem).
   I gjennomsnitt blir tallene derfor riktige. Tall fra {disclosure.MIN_COUNT} og oppover blir
   aldri mindre enn {disclosure.MIN_COUNT}.
4. **Grupper på færre enn 5 personer vises som «{disclosure.HIDDEN}»** – også tomme grupper.
   Hvis tomme grupper ble vist som 0, ville «{disclosure.HIDDEN}» bety «1–4», og da kunne man
   noen ganger regne seg fram til nøyaktige tall (for eksempel når en region har «{disclosure.HIDDEN}»
   og fire av kommunene også har «{disclosure.HIDDEN}»: da må hver av dem ha nøyaktig 1).
5. **Totaler er egne celler.** «Totalt» er antallet personer i hele raden, avrundet for
   seg, ikke summen av de avrundede tallene. Derfor stemmer ikke alltid summen av en
   rad med totalen, og en person som for eksempel har vært på to trinn, telles én gang
   i totalen.

### Hva betyr det for deg som leser?

- Et tall kan avvike med inntil 4 fra det eksakte antallet. Forskjeller på noen få
  personer mellom to tall sier derfor lite; se på store forskjeller og utviklingen
  over tid.
- Det samme tallet er alltid likt, på alle sider og i alle nedlastinger. Å trekke ett
  tall fra et annet («alle» minus «kvinner» minus «menn», en region minus kommunene,
  ett utvalg av kull minus et annet) gir alltid et multiplum av 5, og aldri antallet
  i en liten gruppe.
- **Andeler** regnes ut fra de avrundede tallene, og vises ikke («{disclosure.PROTECTED}») når
  teller eller resten av gruppen er under 5 personer.
- **Medianer** vises bare for grupper på minst {disclosure.STATISTIC_MIN["median"]} personer, og
  **90-persentilen** bare for grupper på minst {disclosure.STATISTIC_MIN["p90"]} personer;
  ellers står cellen tom.
- Nedlastinger (CSV og Excel) inneholder nøyaktig det som vises på skjermen.
- Du ser bare kommunene og regionene du har tilgang til. Rådgivere ser sin kommune eller
  region, ledere hele fylket.

### Datakvalitet

Siden *Datakvalitet* (bare for datateamet) viser filer og rader, ikke personer, og er
derfor ikke avrundet.
"""


def render(filters) -> None:
    st.title("Om tallene")
    st.header("Hvor tallene kommer fra")
    st.markdown(SOURCES)
    st.subheader("Hvor ferske dataene er")
    fresh = ui.query_unscoped("source_freshness")
    if fresh.height:
        st.dataframe(
            pl.DataFrame(
                {
                    "Kilde": [labels.label(labels.SOURCE, s) for s in fresh["source"]],
                    "Siste fil mottatt": [labels.date(v) for v in fresh["last_file"]],
                    "Nyeste hendelse i dataene": [labels.date(v) for v in fresh["last_event"]],
                }
            ),
            hide_index=True,
        )
    st.header("Slik beskyttes tallene")
    st.markdown(TEXT)


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state.get("filters"))
