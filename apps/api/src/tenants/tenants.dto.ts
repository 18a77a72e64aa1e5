import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

export class CreateTenantDto {
  @ApiProperty({ example: 'Acme' })
  @IsString()
  @Length(1, 200)
  name!: string;
}
