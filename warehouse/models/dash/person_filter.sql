-- description: (person_id is unique as in core.person; record_key is tested unique because the dashboard counts persons by it: a collision of two 52-bit keys, about once in 200 000 builds of 200 000 persons, refuses the build and is cured by a new meta.cell_key_secret.) The dashboard's filter attributes per person (settlement cohort and municipality, sex, age group at settlement, country background, reason for residence), joined onto every serving table so page queries need no join; and the person's record key for the cell-key method of dashboard/disclosure.py (a keyed hash of the pid with the warehouse's secret meta.cell_key_secret, 52 bits; never shown).
-- unique: record_key
-- not_null: person_id, record_key
-- grain: person
with final as (
    select
        person_id,
        year(settlement_date) as cohort_year,
        settlement_date,
        settlement_municipality_code,
        sex,
        case
            when settlement_date is null or birth_year is null then null
            when year(settlement_date) - birth_year <= 25 then '16–25'
            when year(settlement_date) - birth_year <= 35 then '26–35'
            when year(settlement_date) - birth_year <= 45 then '36–45'
            when year(settlement_date) - birth_year <= 55 then '46–55'
            else '56+'
        end as age_group,
        country_background,
        immigration_reason,
        ('0x' || left(sha256(getvariable('cell_key_secret') || ':' || person_id), 13))::BIGINT as record_key
    from core.person
)

select * from final
