"""Routing rules: topics the knowledge base does not cover and the team that takes them.

When a search finds no good match and the query names such a topic (a keyword, or close to one of
the example queries), the agent is shown the team with a one-click escalation
(kb.editorial.routing). Editors change the table on /editor/routing; the seed below is a start for
an internet provider's first line: billing, TV, mobile, and sales and contracts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

SEED = [
    {
        "team": "billing",
        "topic_nl": "Facturen en betalingen",
        "topic_en": "Invoices and payments",
        "keywords": """factuur
rekening
afschrijving
afgeschreven
incasso
betaling
betalen
terugbetaling
geld terug
creditnota
btw
maandbedrag
prijsverhoging
duurder
invoice
bill
billing
charged
payment
pay
refund
direct debit
credit note
vat
price increase
overpaid""",
        "examples": """klopt mijn factuur wel
vraag over een afschrijving
er is te veel geïncasseerd
ik wil mijn betaalgegevens wijzigen
is my invoice right
question about a charge on my account
too much was taken from my account
I want to change how I pay""",
    },
    {
        "team": "tv",
        "topic_nl": "Tv en decoder",
        "topic_en": "TV and decoder",
        "keywords": """tv
televisie
decoder
settopbox
set top box
tv box
zender
tv gids
terugkijken
opname
smartcard
smart card
afstandsbediening
ondertiteling
tv pakket
filmpakket
sportpakket
television
tv channel
tv guide
replay
recording
remote control
subtitles
tv package
movie package
sports package""",
        "examples": """beeld valt weg op televisie
de zenderlijst is leeg
tv kijken via de app werkt niet
the picture on the television breaks up
my channel list is empty
watching tv in the app does not work""",
    },
    {
        "team": "mobile",
        "topic_nl": "Mobiel en simkaart",
        "topic_en": "Mobile and SIM",
        "keywords": """simkaart
sim
esim
puk
sim only
roaming
belminuten
bundel
databundel
mobiele data
mobiel internet
mobiel abonnement
mobiel nummer
buitenland
4g
5g
mobile data
mobile internet
mobile plan
mobile number
data bundle
abroad""",
        "examples": """mijn telefoon heeft geen bereik van jullie netwerk
bellen met mijn gsm lukt niet
nieuwe sim nodig
my phone has no service on your network
cannot call from my cell phone
need a new sim""",
    },
    {
        "team": "sales",
        "topic_nl": "Verkoop en contract",
        "topic_en": "Sales and contracts",
        "keywords": """abonnement afsluiten
nieuwe klant
klant worden
aanbieding
korting
studentenkorting
upgrade
contract verlengen
verlengen
tenaamstelling
overleden
overlijden
zakelijk
sign up
new customer
become a customer
offer
deal
discount
promotion
renew
take over the contract
passed away
deceased
business subscription
student discount""",
        "examples": """wat kost een abonnement bij jullie
ik wil een sneller pakket
het contract moet op een andere naam
how much is a subscription with you
I want a faster package
the contract must go to another name""",
    },
]


def upgrade() -> None:
    table = op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("topic_nl", sa.String(100), nullable=False),
        sa.Column("topic_en", sa.String(100), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("examples", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_routing_rules_updated_by_users")),
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":  # stored without a zone, as kb.store.tables.UTCDateTime does
        now = now.replace(tzinfo=None)
    op.bulk_insert(table, [{**rule, "updated_at": now, "updated_by": None} for rule in SEED])


def downgrade() -> None:
    op.drop_table("routing_rules")
